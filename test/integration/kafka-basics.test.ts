/**
 * The foundation's must-show on the real broker: partitioned topics, a consumer group that reads every
 * message exactly once, and transactions that read_committed consumers respect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Admin, Consumer } from 'kafkajs';
import { ensureTopics, offsetsAtTime, topicRange, withAdmin } from '../../src/kafka/admin.js';
import { eventually, testKafka, uniqueName } from '../support/kafka.js';

const kafka = testKafka();
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
});
after(async () => {
  await admin.disconnect();
});

describe('local broker', () => {
  test('creates a topic with 3 partitions, and ensureTopics is idempotent', async () => {
    const topic = uniqueName('basics');
    assert.deepEqual(await ensureTopics(admin, [{ topic, partitions: 3, configs: { 'cleanup.policy': 'compact' } }]), [topic]);
    assert.deepEqual(await ensureTopics(admin, [{ topic, partitions: 3 }]), []);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(metadata.topics[0]?.partitions.length, 3);
    const configs = await withAdmin(kafka, (a) =>
      a.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false }),
    );
    assert.equal(configs.resources[0]?.configEntries[0]?.configValue, 'compact');
  });

  test('a group of two consumers reads each of 10,000 keyed messages exactly once', async () => {
    const topic = uniqueName('group');
    const groupId = uniqueName('group-g');
    await ensureTopics(admin, [{ topic, partitions: 3 }]);
    const total = 10_000;
    const seen = new Map<string, number>();
    const partitionsOfKey = new Map<string, Set<number>>();
    const assignments: number[][] = [[], []];
    const counts = [0, 0];
    const consumers: Consumer[] = [];
    for (let c = 0; c < 2; c++) {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        assignments[c] = event.payload.memberAssignment[topic] ?? [];
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const value = message.value?.toString() ?? '';
          seen.set(value, (seen.get(value) ?? 0) + 1);
          counts[c] = (counts[c] ?? 0) + 1;
          const key = message.key?.toString() ?? '';
          const set = partitionsOfKey.get(key) ?? new Set<number>();
          set.add(partition);
          partitionsOfKey.set(key, set);
        },
      });
      consumers.push(consumer);
    }
    // Produce only once the group has settled with both members, so both must share the work.
    await eventually(
      () => {
        const [a = [], b = []] = assignments;
        const all = new Set([...a, ...b]);
        return a.length > 0 && b.length > 0 && all.size === 3 && a.length + b.length === 3 ? true : undefined;
      },
      30_000,
      'both consumers to hold disjoint partitions',
    );
    const producer = kafka.producer();
    await producer.connect();
    for (let start = 0; start < total; start += 1000) {
      const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `k${(start + i) % 97}`, value: String(start + i) }));
      await producer.send({ topic, messages });
    }
    await producer.disconnect();
    const range = await topicRange(admin, topic);
    assert.equal(
      range.reduce((sum, p) => sum + Number(p.high), 0),
      total,
    );
    await eventually(() => (seen.size === total ? true : undefined), 60_000, `${total} distinct messages`);
    // Let any late duplicate arrive before checking "exactly once".
    await new Promise((r) => setTimeout(r, 1000));
    await Promise.all(consumers.map((c) => c.disconnect()));
    assert.equal(seen.size, total);
    assert.ok([...seen.values()].every((n) => n === 1), 'no message delivered twice');
    assert.equal((counts[0] ?? 0) + (counts[1] ?? 0), total);
    assert.ok((counts[0] ?? 0) > 0 && (counts[1] ?? 0) > 0, `both consumers read messages: ${counts.join(', ')}`);
    assert.ok([...partitionsOfKey.values()].every((s) => s.size === 1), 'each key stays in one partition');
  });

  test('read_committed sees the committed transaction and not the aborted one', async () => {
    const topic = uniqueName('txn');
    await ensureTopics(admin, [{ topic, partitions: 1 }]);
    const producer = kafka.producer({ transactionalId: uniqueName('txn-id'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'c1' }, { value: 'c2' }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ value: 'a1' }, { value: 'a2' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ value: 'c3' }] });
    await last.commit();
    await producer.disconnect();

    const read = async (readUncommitted: boolean): Promise<string[]> => {
      const values: string[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('txn-g'), readUncommitted });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? '') });
      await eventually(() => (values.includes('c3') ? true : undefined), 30_000, 'the last committed message');
      await consumer.disconnect();
      return values;
    };
    assert.deepEqual(await read(false), ['c1', 'c2', 'c3']);
    // The aborted records are in the log: a read_uncommitted reader sees them, which shows the test can tell.
    assert.deepEqual(await read(true), ['c1', 'c2', 'a1', 'a2', 'c3']);
  });

  test('offsetsAtTime finds the first offset at or after a time in each partition', async () => {
    const topic = uniqueName('time');
    await ensureTopics(admin, [{ topic, partitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    const t0 = Date.now() - 60_000;
    await producer.send({
      topic,
      messages: [0, 1, 2, 3].flatMap((i) => [
        { partition: 0, value: `p0-${i}`, timestamp: String(t0 + i * 1000) },
        { partition: 1, value: `p1-${i}`, timestamp: String(t0 + i * 1000 + 500) },
      ]),
    });
    await producer.disconnect();
    assert.deepEqual(await offsetsAtTime(admin, topic, t0 + 1500), [
      { partition: 0, offset: '2' },
      { partition: 1, offset: '1' },
    ]);
    assert.deepEqual(await offsetsAtTime(admin, topic, t0 + 10_000), [
      { partition: 0, offset: '4' },
      { partition: 1, offset: '4' },
    ]);
  });
});
