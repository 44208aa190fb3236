/**
 * Issue 8's scale-out test on the real broker, exactly-once: one process, then two sharing the consumer
 * group, then one again, during a run. Each process checkpoints its own state (model, evaluator windows)
 * and that of the partitions it holds (reservoir, evaluator totals), and commits everything it processed
 * before it rejoins the group, so partitions change hands exactly, with their state. At the end the
 * processes' counts add up to every message exactly once, a read_committed reader sees each process's
 * metrics windows once and in order, the partitions' states count every message once, and the exact merge
 * of their reservoirs is a uniform sample of all partitions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { createLogger } from '../../src/observe/logger.js';
import { consumerLag, startTopology } from '../../src/topology/runner.js';
import { goodnessOfFit } from '../support/chi-square.js';
import { committedPartitionStates, committedProcessStates, readCommittedMetrics, scoredByProcesses } from '../support/checkpoints.js';
import { readReviews } from '../support/data.js';
import { testKafka } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const kafka = testKafka('rebalance');
const TOTAL = 40_000;
const T0 = 1_700_000_000_000;

const until = async (condition: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('1 → 2 → 1 processes: every message counted once, metrics windows once, merged reservoir uniform', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    guarantee: 'exactly-once',
    checkpoint: { topic: `${base.name}.state`, everyMessages: 1500, everyMs: 500 },
    // 2^16 buckets: checkpoints of a few MB rather than 25, so frequent ones do not starve the two processes.
    features: { ...base.features, bits: 16 },
    sample: { ...base.sample, method: 'uniform', size: 2000 },
    // One replay per message slows the run down, so the group changes happen in its middle.
    train: { ...base.train, replayEvery: 1, replayBatch: 96 },
    evaluate: { ...base.evaluate, reportEveryMs: 0 },
    outputs: { ...base.outputs, snapshots: null },
  }));
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const reviews = readReviews();
  // Written directly (the feed command drops input timestamps): each message's position in the stream is
  // its timestamp, which the uniformity check below reads back from the sampled examples.
  const producer = kafka.producer();
  await producer.connect();
  for (let from = 0; from < TOTAL; from += 2000) {
    const messages = Array.from({ length: 2000 }, (_, j) => {
      const i = from + j;
      return { key: `m${i}`, value: JSON.stringify({ ...reviews[i % reviews.length], id: `m${i}`, timestamp: T0 + i }) };
    });
    await producer.send({ topic, messages });
  }
  await producer.disconnect();

  const logger = process.env.TOKRS_TEST_LOG ? createLogger() : undefined;
  const a = await startTopology(t, { kafka, instance: 'a', sessionTimeout: 15_000, ...(logger ? { logger } : {}) });
  await until(() => a.state.seen >= 2000, 120_000, 'process a to get going');
  const b = await startTopology(t, { kafka, instance: 'b', sessionTimeout: 15_000, ...(logger ? { logger } : {}) });
  await until(() => b.state.seen >= 1000, 120_000, 'process b to take partitions and work on them');
  const bSummary = await b.stop();
  // a runs until the group has committed every message (an idle exit could come before a notices that b
  // left and takes b's partitions back), then stops gracefully.
  const deadline = Date.now() + 120_000;
  while ((await consumerLag(kafka, t.source.group!, [topic])) > 0) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a to take b\'s partitions back and finish');
    await new Promise((r) => setTimeout(r, 500));
  }
  const aSummary = await a.stop();

  const states = await committedProcessStates(kafka, t, ['a', 'b']);
  const labelled = states.map((s) => s.counters!.labelled);
  assert.equal(labelled[0]! + labelled[1]!, TOTAL, `a ${labelled[0]} + b ${labelled[1]}: every message once`);
  assert.ok(labelled[1]! > 0 && bSummary.labelled > 0, 'b did part of the work');
  const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: t.source.group!, topics: [topic] }));
  assert.equal(committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0), TOTAL);

  // Each process's metrics windows, as a read_committed reader sees them: sequence 1..n once and in order,
  // a count window every 1000 of its messages, and the final windows' counts add up to every message once.
  const runs = { a: a.runId, b: b.runId };
  const metrics = await readCommittedMetrics(kafka, t.outputs.metrics!.topic, (records) =>
    Object.values(runs).every((runId) => records.some((m) => m.runId === runId && m.window.kind === 'complete')),
  );
  const finals = Object.entries(runs).map(([instance, runId]) => {
    const own = metrics.filter((m) => m.runId === runId);
    const sequences = own.map((m) => m.sequence);
    assert.deepEqual(sequences, Array.from({ length: sequences.length }, (_, i) => i + 1), `${instance}: every window once, none lost`);
    const counts = own.filter((m) => m.window.kind === 'count').map((m) => m.counts.seen);
    assert.deepEqual(counts, Array.from({ length: counts.length }, (_, i) => (i + 1) * 1000), `${instance}: a count window every 1000 messages`);
    const complete = own.filter((m) => m.window.kind === 'complete');
    assert.equal(complete.length, 1, `${instance}: one final window`);
    return complete[0]!.counts.labelled;
  });
  assert.equal(finals[0]! + finals[1]!, TOTAL, `final windows: a ${finals[0]} + b ${finals[1]}`);

  // State per source partition: each partition's committed state covers all of its messages, whichever
  // process scored them, and a (which ends up with every partition) holds the sum: every message once,
  // although a itself processed only part of them.
  const { partitions, states: taken, scored } = await committedPartitionStates(kafka, t);
  assert.equal(partitions.length, 3, 'a committed state for each source partition');
  const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  for (const p of partitions) assert.equal(p.offset, ends.find((e) => e.partition === p.partition)!.high, `partition ${p.partition}: state up to its end`);
  // The same messages the processes' own evaluators scored (a fresh model cannot score its first message).
  const byProcesses = scoredByProcesses(states);
  assert.equal(scored, byProcesses, `partitions' totals ${scored}, processes' ${byProcesses}`);
  assert.ok(scored >= TOTAL - 2, `${scored} of ${TOTAL} scored`);
  assert.equal(a.state.partitions!.totals().get().count, scored, "a's live totals are the partitions' committed ones");
  assert.ok(aSummary.labelled < TOTAL, 'b did part of the work of the partitions a holds at the end');
  // What a metrics reader sees: a's final record lists the totals of the partitions it holds.
  const aFinal = metrics.find((m) => m.runId === a.runId && m.window.kind === 'complete')!;
  assert.equal(aFinal.partitions?.length, 3);
  assert.equal(aFinal.partitions!.reduce((sum, p) => sum + p.scored, 0), scored, "a's final metrics record: every partition's totals");

  // The topology-wide sample: the exact merge of the partitions' reservoirs, tested like any sampler:
  // which tenth of the stream each sampled message came from must be uniform (χ², α = 0.001).
  const merged = taken.sampler.sample();
  assert.equal(taken.sampler.count, TOTAL);
  assert.equal(merged.length, 2000);
  assert.deepEqual(a.state.sampler!.sample(), merged, "a's live sample is the committed partitions' merge");
  const bins = new Array<number>(10).fill(0);
  for (const e of merged) bins[Math.floor(((e.timestamp - T0) * 10) / TOTAL)]!++;
  const fit = goodnessOfFit(bins, new Array<number>(10).fill(0.1));
  assert.ok(fit.pValue > 0.001, `merged sample by tenth of the stream ${bins.join(', ')}: p = ${fit.pValue}`);
  console.log(`merged by tenth: ${bins.join(' ')} (p ${fit.pValue.toFixed(3)})`);
  // How (checked last, so the checks above show what goes wrong without it): a committed everything it
  // had processed before it rejoined the group.
  assert.ok(aSummary.handovers >= 1, 'a committed everything before handing partitions to b');
});
