/**
 * The before-rejoin hook on the real broker: when a second member joins, the first one's rejoin waits for
 * its beforeRejoin work, and the rebalance cannot complete without it, so the newcomer gets its partitions
 * (and reads their committed offsets) only after that work is done. This is what lets an exactly-once run
 * hand partitions over without a transaction in flight (src/kafka/before-rejoin.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { KafkaSource } from '../../src/kafka/source.js';
import { eventually, testKafka, uniqueName } from '../support/kafka.js';

const kafka = testKafka('before-rejoin');

test('a member rejoins only after its beforeRejoin work settles; the newcomer is assigned after it', async () => {
  const topic = uniqueName('rejoin');
  const groupId = uniqueName('rejoin-g');
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 2 }]));
  const events: string[] = [];
  const calls: boolean[] = [];
  const member = { kafka, groupId, topics: [topic], fromBeginning: true, maxInFlight: 10, sessionTimeout: 10_000, heartbeatInterval: 500 };
  const first = new KafkaSource({
    ...member,
    onAssignment: (assignment) => void events.push(`first assigned ${(assignment[topic] ?? []).join(',')}`),
    beforeRejoin: async (lost) => {
      calls.push(lost);
      events.push('first rejoining');
      // Longer than the newcomer would otherwise wait: the join of both completes only after this.
      await new Promise((r) => setTimeout(r, 2_000));
      events.push('first done');
    },
  });
  const second = new KafkaSource({
    ...member,
    onAssignment: (assignment) => void events.push(`second assigned ${(assignment[topic] ?? []).join(',')}`),
  });
  const subscriptions = [first.messages().subscribe()];
  try {
    await eventually(() => (events.includes('first assigned 0,1') ? true : undefined), 30_000, 'the first member to be assigned both partitions');
    subscriptions.push(second.messages().subscribe());
    await eventually(() => (events.some((e) => e.startsWith('second assigned')) ? true : undefined), 60_000, 'the second member to be assigned');
    assert.deepEqual(calls, [false], 'called once, as a member in good standing');
    const secondAssigned = events.findIndex((e) => e.startsWith('second assigned'));
    assert.ok(events.indexOf('first done') >= 0 && events.indexOf('first done') < secondAssigned, events.join(' → '));
    assert.equal(events[secondAssigned]!.split(' ')[2]!.split(',').length, 1, `one partition each: ${events.join(' → ')}`);
  } finally {
    for (const s of subscriptions) s.unsubscribe();
    first.stop();
    second.stop();
    await Promise.all([first.close(), second.close()]);
  }
});
