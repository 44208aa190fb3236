/**
 * `tokrs feed` on the real broker: event times in the input become the Kafka message timestamps (and the
 * event's own field), so replays in event time see when things happened rather than when they were fed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES } from '../../src/codec/records.js';
import { readTopic, testKafka, uniqueName } from '../support/kafka.js';

const lines = [
  JSON.stringify({ id: 'a', text: '好吃', label: 'positive', timestamp: 1_600_000_000_000 }),
  JSON.stringify({ id: 'b', text: '太慢了', label: 'negative', timestamp: '2021-03-04T05:06:07.089Z' }),
  JSON.stringify({ id: 'c', text: '还行' }),
  JSON.stringify({ id: 'd', text: '时间不对', timestamp: 'yesterday' }),
  JSON.stringify({ id: 'e', text: '负的', timestamp: -5 }),
];

for (const format of ['json', 'avro'] as const) {
  test(`feed (${format}): an input event time is the message timestamp; an unusable one skips the line`, async () => {
    const kafka = testKafka('feed-test');
    const topic = uniqueName(`feed-${format}`);
    await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
    const before = Date.now();
    const result = await feedLines(kafka, lines, { topic, format, jsonInput: true, idField: 'id' });
    assert.deepEqual(result, { sent: 3, skipped: 2 }, '"yesterday" and a negative time are not event times');
    const got = (await readTopic(kafka, topic, 3)).sort((x, y) => String(x.key).localeCompare(String(y.key)));
    assert.deepEqual(got.map((m) => String(m.key)), ['a', 'b', 'c']);
    assert.equal(got[0].timestamp, 1_600_000_000_000);
    assert.equal(got[1].timestamp, Date.parse('2021-03-04T05:06:07.089Z'));
    assert.ok(got[2].timestamp >= before - 1000, 'no event time: the broker/producer time of feeding');
    const eventTimes = got.map((m) =>
      format === 'json' ? ((JSON.parse(m.value.toString()) as { timestamp?: number }).timestamp ?? null) : (decodeRecord(SCHEMA_NAMES.textEvent, m.value) as { timestamp: number | null }).timestamp,
    );
    assert.deepEqual(eventTimes, [1_600_000_000_000, Date.parse('2021-03-04T05:06:07.089Z'), null]);
  });
}
