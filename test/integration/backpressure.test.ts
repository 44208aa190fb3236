/**
 * Backpressure on the real broker: behind a deliberately slow stage, the number of messages read and not
 * yet processed never exceeds the configured bound, the consumer pauses, and all 50,000 messages pass and
 * are committed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferCount, concatMap, delay, from, mergeMap } from 'rxjs';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { KafkaSource } from '../../src/kafka/source.js';
import { testKafka, uniqueName } from '../support/kafka.js';

const kafka = testKafka('backpressure');

test('a slow stage keeps at most maxInFlight messages buffered while 50,000 pass', async () => {
  const topic = uniqueName('bp');
  const groupId = uniqueName('bp-g');
  const total = 50_000;
  const bound = 200;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const producer = kafka.producer();
  await producer.connect();
  for (let start = 0; start < total; start += 5000) {
    await producer.send({ topic, messages: Array.from({ length: 5000 }, (_, i) => ({ key: String((start + i) % 101), value: String(start + i) })) });
  }
  await producer.disconnect();

  const source = new KafkaSource({ kafka, groupId, topics: [topic], fromBeginning: true, maxInFlight: bound });
  let processed = 0;
  let maxBuffered = 0;
  const seen = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    const subscription = source
      .messages()
      .pipe(
        // The slow stage: holds messages in batches of 50 and releases each batch a few ms later.
        bufferCount(50),
        concatMap((batch) => from([batch]).pipe(delay(3))),
        mergeMap((batch) => batch),
      )
      .subscribe({
        next(message) {
          maxBuffered = Math.max(maxBuffered, source.tracker.inFlight);
          seen.add(message.value!.toString());
          source.done(message);
          processed++;
          if (processed % 5000 === 0) void source.commit();
          if (processed === total) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
  });
  await source.commit();
  await source.close();

  assert.equal(seen.size, total, 'every message passed');
  assert.ok(source.maxObservedInFlight <= bound, `in flight peaked at ${source.maxObservedInFlight} > ${bound}`);
  assert.ok(maxBuffered <= bound);
  assert.ok(source.maxObservedInFlight >= bound - 50, `the bound was reached (peak ${source.maxObservedInFlight}), so it was tested`);
  assert.ok(source.pauses > 0, 'the consumer paused');
  const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  assert.equal(
    committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0),
    total,
    'offsets committed for every processed message',
  );
});
