/**
 * Model averaging on the real broker (issue 8): two processes of one exactly-once topology share a
 * 4-partition topic; each learns on its partitions, publishes snapshots, and averages its model with the
 * other's committed snapshots. Both must have averaged the other's snapshots in, and averaging must not
 * disturb exactly-once: the partitions' committed totals count every message once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { createLogger } from '../../src/observe/logger.js';
import { consumerLag, startTopology } from '../../src/topology/runner.js';
import { committedPartitionStates, committedProcessStates, scoredByProcesses } from '../support/checkpoints.js';
import { readReviews } from '../support/data.js';
import { testKafka } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const kafka = testKafka('averaging');
const TOTAL = 16_000;

test('two processes average their models through the snapshots topic; every message still counted once', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    guarantee: 'exactly-once',
    checkpoint: { topic: `${base.name}.state`, everyMessages: 1000, everyMs: 300 },
    features: { ...base.features, bits: 16 },
    // A replay per message slows the run down, so both processes are at work for several averages.
    train: { ...base.train, replayEvery: 1, replayBatch: 64 },
    outputs: { ...base.outputs, snapshots: { topic: `${base.name}.snapshots`, everyMessages: 500 } },
    average: { everyMs: 500, maxAgeMs: 60_000 },
  }));
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 4 }]));

  const logger = process.env.TOKRS_TEST_LOG ? createLogger() : undefined;
  const runs = await Promise.allSettled(['a', 'b'].map((instance) => startTopology(t, { kafka, instance, sessionTimeout: 15_000, ...(logger ? { logger } : {}) })));
  const started = runs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = () => Promise.all(started.map((run) => run.stop()));
  const failed = runs.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }
  const [a, b] = started;
  const held = (run: typeof a): number => Object.values(run!.source.assignment).flat().length;
  const deadline = Date.now() + 120_000;
  try {
    // Both hold partitions before the messages arrive, and the messages arrive as a live stream (2,000 a
    // second), so the two processes learn side by side for several averages.
    while (held(a) + held(b) < 4 || held(a) === 0 || held(b) === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for both processes to hold partitions');
      await new Promise((r) => setTimeout(r, 100));
    }
    const reviews = readReviews();
    await feedLines(
      kafka,
      Array.from({ length: TOTAL }, (_, i) => JSON.stringify({ ...reviews[i % reviews.length], id: `m${i}` })),
      { topic, format: 'json', jsonInput: true, rate: 2000 },
    );
    while ((await consumerLag(kafka, t.source.group!, [topic])) > 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the two processes to finish');
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const [aSummary, bSummary] = await stopAll();

  assert.ok(aSummary && bSummary);
  for (const [name, s] of [['a', aSummary], ['b', bSummary]] as const) {
    assert.ok(s.labelled > 0 && s.labelled < TOTAL, `${name} learned on part of the stream (${s.labelled})`);
    assert.ok(s.averages >= 2 && s.averagedIn >= 2, `${name} averaged the other's snapshots in (${s.averages} averages)`);
  }
  assert.equal(aSummary.labelled + bSummary.labelled, TOTAL);

  const { partitions, states, scored } = await committedPartitionStates(kafka, t);
  assert.equal(partitions.length, 4);
  // Exactly the messages the processes' own evaluators scored (a fresh model cannot score its first
  // message, unless it averaged the other's model in before it).
  const own = await committedProcessStates(kafka, t, ['a', 'b']);
  assert.equal(scored, scoredByProcesses(own), 'the partitions count every message the processes scored, once');
  assert.ok(scored >= TOTAL - 2);
  assert.equal(states.sampler.count, TOTAL);
  console.log(`averages: a ${aSummary.averages} (${aSummary.averagedIn} snapshots), b ${bSummary.averages} (${bSummary.averagedIn})`);
});
