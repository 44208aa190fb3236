/**
 * The zombie case on the real broker: two `tokrs run` processes of one exactly-once topology share a
 * 6-partition source with a live feed; one (the sleeper) is stopped with SIGSTOP while it holds partitions
 * and has processed messages since its last checkpoint, and stays stopped past its session timeout, so the
 * group drops it and the other takes every partition from the sleeper's last committed offsets. Then the
 * sleeper gets SIGCONT while messages still flow. KafkaJS has no KIP-447 (the broker does not fence a
 * transactional producer of a member the group has dropped), so tokrs itself must not commit the work it
 * did before the stop: the sleeper has to go back to its last committed checkpoint and rejoin. Both run to
 * the end of the feed and stop gracefully; the instances' checkpoints and the partitions' committed states
 * count every message once, the group's offsets reach the end, and a read_committed reader of the metrics
 * sees each (instance, sequence) window at most once and in order.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withAdmin } from '../../src/kafka/admin.js';
import { createRandom } from '../../src/sample/random.js';
import { consumerLag } from '../../src/topology/runner.js';
import { committedPartitionStates, committedProcessStates, messagesPastCommit, readCommittedMetrics, scoredByProcesses } from '../support/checkpoints.js';
import { assignedAll, countedAcrossInstances, lastAssignment, startOnLiveFeed, until, untilEachHoldsItsShare } from '../support/cli-run.js';
import { testKafka } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const kafka = testKafka('pause-one');
/** Enough that the feed outlasts the stop (session timeout + 4 s) with time to spare after SIGCONT. */
const TOTAL = 50_000;
/** Fed before the processes start; the rest arrives live, at LIVE_RATE, while they run. */
const BACKLOG = 3_000;
const LIVE_RATE = 2_000;
const PARTITIONS = 6;
const SESSION_TIMEOUT = 6000;
/** How long the sleeper stays stopped: past its session timeout, so the group drops it. */
const STOPPED_MS = SESSION_TIMEOUT + 4000;
const INSTANCES = ['a', 'b'] as const;
/** Override to replay another stop moment; printed either way. */
const SEED = process.env.TOKRS_TEST_SEED ?? 'pause-one';
/** Where to keep the two processes' logs (pause-one-a.log, pause-one-b.log), if anywhere. */
const LOG_DIR = process.env.TOKRS_TEST_LOG_DIR;
/** What the sleeper's log says about how it recovered after SIGCONT. */
const RECOVERY = /rebalance|rewind|back to the last committed|dropped|stale|commit/i;

test('SIGSTOP one of two processes past its session timeout, then SIGCONT: it commits no stale work, every message counted once', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    guarantee: 'exactly-once',
    // Checkpoints every 1.5 s or so: the sleeper is stopped between two, with work not yet committed.
    checkpoint: { topic: `${base.name}.state`, everyMessages: 3000, everyMs: 1500 },
    features: { ...base.features, bits: 16 },
    // Count-triggered windows only, so which windows exist does not depend on timing.
    evaluate: { ...base.evaluate, reportEvery: 1000, reportEveryMs: 0 },
    outputs: { ...base.outputs, snapshots: null },
  }));
  const topic = t.source.topics[0]!;
  const group = t.source.group!;
  const random = createRandom(SEED);
  // The rest of the feed arrives live once both run, so what happens to a process lands while messages
  // flow in (a backlog of all of them would be processed in a second or two).
  const { runs, live, feeding, feedStarted, feedMs } = await startOnLiveFeed(kafka, t, {
    instances: INSTANCES,
    total: TOTAL,
    backlog: BACKLOG,
    rate: LIVE_RATE,
    partitions: PARTITIONS,
    sessionTimeoutMs: SESSION_TIMEOUT,
  });
  let stopped: (typeof runs)[number] | undefined;
  try {
    await untilEachHoldsItsShare(runs, topic, PARTITIONS);
    const sleeper = runs[Math.floor(random.next() * runs.length)]!;
    const other = runs.find((r) => r !== sleeper)!;
    // A seeded moment early in the live feed, so that it still flows when the sleeper wakes.
    const stopAt = Math.floor(feedMs * (0.1 + 0.15 * random.next()));
    await new Promise((r) => setTimeout(r, Math.max(0, stopAt - (Date.now() - feedStarted))));
    // Just after one of its checkpoints, so that what it has processed since is neither committed nor small.
    const checkpoints = (): number => sleeper.logs().filter((l) => l.msg === 'checkpoint committed').length;
    const before = checkpoints();
    await until(() => checkpoints() > before, 10_000, `a checkpoint of ${sleeper.instance}`);
    const afterCheckpoint = 300 + Math.floor(500 * random.next());
    await new Promise((r) => setTimeout(r, afterCheckpoint));
    assert.equal(sleeper.child.exitCode, null, `${sleeper.instance} still running when it is stopped`);
    const sleeperPartitions = lastAssignment(sleeper, topic)!;
    assert.equal(sleeperPartitions.length, PARTITIONS / 2, `${sleeper.instance} holds partitions when it is stopped`);
    const otherSince = other.logs().length;
    sleeper.child.kill('SIGSTOP');
    stopped = sleeper;
    const stoppedAt = Date.now();
    const committedAtStop = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
    console.log(
      `seed ${SEED}: stopped ${sleeper.instance} (partitions ${sleeperPartitions.join(',')}) ${stoppedAt - feedStarted} ms into the live feed (planned ${stopAt}), ${afterCheckpoint} ms after its checkpoint`,
    );

    // The group drops the sleeper when its session times out; the other takes every partition.
    const tookAll = assignedAll(topic, PARTITIONS);
    await until(() => other.logs().slice(otherSince).some(tookAll), STOPPED_MS, `${other.instance} to be assigned all partitions while ${sleeper.instance} is stopped`);
    console.log(`${other.instance} was assigned all partitions ${(other.logs().slice(otherSince).find(tookAll)!.time as number) - stoppedAt} ms after the stop`);
    await new Promise((r) => setTimeout(r, Math.max(0, STOPPED_MS - (Date.now() - stoppedAt))));
    assert.ok(feeding(), `messages still arriving when ${sleeper.instance} wakes`);
    const sleeperSince = sleeper.output().length;
    const sleeperLogsSince = sleeper.logs().length;
    sleeper.child.kill('SIGCONT');
    stopped = undefined;
    const wokeAt = Date.now();
    console.log(`woke ${sleeper.instance} after ${wokeAt - stoppedAt} ms, ${wokeAt - feedStarted} ms into the live feed`);
    await live;

    // Both run to the end of the feed: the group's committed offsets reach the end of every partition, and
    // the sleeper has rejoined and been given partitions again.
    await until(() => sleeper.logs().slice(sleeperLogsSince).some((l) => l.msg === 'partitions assigned'), 60_000, `${sleeper.instance} to rejoin the group`);
    await until(async () => (await consumerLag(kafka, group, [topic])) === 0, 60_000, 'the group to commit every partition to its end');
    // How the sleeper recovered: what its log says from SIGCONT on, ms after SIGCONT.
    const recovery = sleeper
      .output()
      .slice(sleeperSince)
      .split('\n')
      .filter((line) => RECOVERY.test(line));
    const brief = (line: string): string => {
      if (!line.startsWith('{"level"')) return line.slice(0, 300);
      const { level: _level, time, topology: _topology, instance: _instance, runId: _runId, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return `+${(time as number) - wokeAt} ms ${String(msg)} ${JSON.stringify(rest).replaceAll(`${topic}`, 'in').slice(0, 300)}`;
    };
    console.log(`${sleeper.instance} after SIGCONT (${recovery.length} lines matching ${RECOVERY}):\n${recovery.map((l) => `  ${brief(l)}`).join('\n')}`);
    // A checkpoint the sleeper committed after waking but before the group gave it partitions again is work
    // from before the stop, on partitions the group had given to the other: the zombie commit.
    const woke = sleeper.logs().slice(sleeperLogsSince);
    const rejoined = woke.findIndex((l) => l.msg === 'partitions assigned');
    const staleCommits = woke.slice(0, rejoined).filter((l) => l.msg === 'checkpoint committed');
    const lastBeforeStop = sleeper
      .logs()
      .slice(0, sleeperLogsSince)
      .findLast((l) => l.msg === 'checkpoint committed');
    console.log(
      `${sleeper.instance}'s last checkpoint before the stop: version ${String(lastBeforeStop?.version)}; committed after waking, before rejoining: ${staleCommits.map((l) => `version ${String(l.version)} at +${(l.time as number) - wokeAt} ms`).join(', ') || 'none'}`,
    );

    for (const run of runs) run.child.kill('SIGTERM');
    for (const run of runs) assert.equal(await run.exited, 0, `${run.instance} stops gracefully: ${run.output().slice(-2000)}`);
    assert.equal(await consumerLag(kafka, group, [topic]), 0, 'the group committed every partition to its end');

    const states = await committedProcessStates(kafka, t, INSTANCES);
    const leftOver = await messagesPastCommit(kafka, topic, committedAtStop, sleeperPartitions);
    const counted = countedAcrossInstances(states);
    const each = INSTANCES.map((instance, i) => `${instance} ${states[i]!.evaluator?.messages}`).join(' + ');
    console.log(`counted ${each} = ${counted.messages} of ${TOTAL}; ${leftOver} of ${sleeper.instance}'s partitions' messages were past its last commit when it stopped`);
    const { partitions, states: taken, scored } = await committedPartitionStates(kafka, t);
    const byProcesses = scoredByProcesses(states);
    console.log(`partitions' committed states (${partitions.length}) scored ${scored} and sampled ${taken.sampler.count}; the processes scored ${byProcesses}`);
    // Both stopped gracefully, so each instance's windows are there up to the last its checkpoint knows of,
    // each once and in order; a window the sleeper published again after waking would show up twice.
    const metrics = await readCommittedMetrics(kafka, t.outputs.metrics!.topic, (records) =>
      INSTANCES.every((instance) => records.some((m) => m.instance === instance && m.window.kind === 'complete')),
    );
    const windows = INSTANCES.map((instance) => metrics.filter((m) => m.instance === instance).map((m) => m.sequence));
    INSTANCES.forEach((instance, i) => {
      const sequences = windows[i]!;
      const repeated = sequences.filter((x, j) => sequences.indexOf(x) !== j);
      const disorder = sequences.filter((x, j) => j > 0 && x <= sequences[j - 1]!);
      console.log(`${instance}: ${sequences.length} windows read_committed, checkpoint knows ${states[i]!.evaluator!.sequence}; twice: [${repeated.join(',')}], out of order: [${disorder.join(',')}]`);
    });

    // Everything is printed; now the checks.
    assert.equal(counted.messages, TOTAL, `evaluator messages ${each}: every message once`);
    assert.equal(counted.labelled, TOTAL, 'evaluator labelled: every message once');
    assert.equal(partitions.length, PARTITIONS, 'a committed state for each partition');
    assert.equal(scored, byProcesses, `partitions' totals ${scored}, processes' ${byProcesses}`);
    assert.equal(taken.sampler.count, TOTAL, 'the partitions sampled every message once');
    INSTANCES.forEach((instance, i) => {
      const sequences = windows[i]!;
      assert.deepEqual(sequences.filter((x, j) => sequences.indexOf(x) !== j), [], `${instance}: no window twice`);
      assert.ok(
        sequences.every((x, j) => j === 0 || x > sequences[j - 1]!),
        `${instance}: windows in order`,
      );
      assert.deepEqual(sequences, Array.from({ length: states[i]!.evaluator!.sequence }, (_, j) => j + 1), `${instance}: each window once, in order`);
    });
    assert.deepEqual(staleCommits, [], `${sleeper.instance} committed no checkpoint between waking and rejoining the group`);
  } finally {
    if (stopped !== undefined) stopped.child.kill('SIGCONT');
    await live.catch(() => undefined);
    if (LOG_DIR !== undefined) for (const run of runs) writeFileSync(join(LOG_DIR, `pause-one-${run.instance}.log`), run.output());
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  }
});
