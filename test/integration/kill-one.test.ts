/**
 * Issue 8 on the real broker: two `tokrs run` processes of one exactly-once topology share a 6-partition
 * source; one is killed with SIGKILL in the middle of the run and never restarted. The survivor takes the
 * dead one's partitions once the group's session timeout notices it has gone, and finishes. The dead one's
 * last committed checkpoint and the survivor's final one together count every message exactly once, the
 * group's offsets reach the end of every partition, and a read_committed reader of the metrics topic sees
 * each process's windows at most once and in order.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withAdmin } from '../../src/kafka/admin.js';
import { createRandom } from '../../src/sample/random.js';
import { consumerLag } from '../../src/topology/runner.js';
import { committedPartitionStates, committedProcessStates, messagesPastCommit, readCommittedMetrics, scoredByProcesses } from '../support/checkpoints.js';
import { assignedAll, countedAcrossInstances, fence, lastAssignment, startOnLiveFeed, until, untilEachHoldsItsShare } from '../support/cli-run.js';
import { testKafka } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const kafka = testKafka('kill-one');
const TOTAL = 30_000;
/** Fed before the processes start; the rest arrives live, at LIVE_RATE, while they run. */
const BACKLOG = 3_000;
const LIVE_RATE = 2_000;
const PARTITIONS = 6;
const SESSION_TIMEOUT = 6000;
const INSTANCES = ['a', 'b'] as const;
/** Override to replay another kill moment; printed either way. */
const SEED = process.env.TOKRS_TEST_SEED ?? 'kill-one';
/** Where to keep the two processes' logs (kill-one-a.log, kill-one-b.log), if anywhere. */
const LOG_DIR = process.env.TOKRS_TEST_LOG_DIR;

test('SIGKILL one of two processes: the survivor takes its partitions, every message counted once', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    guarantee: 'exactly-once',
    checkpoint: { topic: `${base.name}.state`, everyMessages: 1500, everyMs: 500 },
    // 2^16 buckets: small checkpoints, so frequent ones do not starve two processes on two cores.
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
  try {
    // Both consuming, half the partitions each, and each has committed a checkpoint since.
    await untilEachHoldsItsShare(runs, topic, PARTITIONS);
    const victim = runs[Math.floor(random.next() * runs.length)]!;
    const survivor = runs.find((r) => r !== victim)!;
    // A seeded random moment in the second half of the live feed (after both are going, in any case).
    const killAt = Math.floor(feedMs * (0.45 + 0.4 * random.next()));
    await new Promise((r) => setTimeout(r, killAt - (Date.now() - feedStarted)));
    assert.ok(feeding(), 'messages still arriving when the victim is killed');
    assert.equal(victim.child.exitCode, null, `${victim.instance} still running when it is killed`);
    // The survivor's log from here on must show it taking the victim's partitions.
    const surviving = survivor.logs().length;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    const victimPartitions = lastAssignment(victim, topic)!;
    // Until the survivor owns them, the victim's partitions' committed offsets are the victim's last commit.
    const committedAtKill = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
    console.log(`seed ${SEED}: killed ${victim.instance} (partitions ${victimPartitions.join(',')}) ${killedAt - feedStarted} ms into the live feed (planned ${killAt})`);
    await live;

    // The survivor learns of the death only when the session times out, then takes every partition.
    const tookAll = assignedAll(topic, PARTITIONS);
    await until(() => survivor.logs().slice(surviving).some(tookAll), SESSION_TIMEOUT + 20_000, `${survivor.instance} to be assigned all partitions`);
    const takeover = survivor.logs().slice(surviving).find(tookAll)!;
    const tookOver = (takeover.time as number) - killedAt;
    // It finishes: the group's committed offsets (committed only with checkpoints) reach the end of every
    // partition. Then it stops gracefully.
    await until(async () => (await consumerLag(kafka, group, [topic])) === 0, 60_000, `${survivor.instance} to commit every partition to its end`);
    survivor.child.kill('SIGTERM');
    assert.equal(await survivor.exited, 0, survivor.output().slice(-2000));
    console.log(`${survivor.instance} was assigned all partitions ${tookOver} ms after the kill`);

    // The survivor's log: assigned the dead one's partitions, without giving up any of its own state.
    const assignments = survivor.logs().filter((l) => l.msg === 'partitions assigned');
    const final = assignments.at(-1)!;
    const finalPartitions = (final.assignment as Record<string, number[]>)[topic] ?? [];
    for (const p of victimPartitions) assert.ok(finalPartitions.includes(p), `${survivor.instance} was assigned ${victim.instance}'s partition ${p}`);
    assert.deepEqual(final.revoked, [], `${survivor.instance} lost no partition when taking over`);

    assert.equal(await consumerLag(kafka, group, [topic]), 0, 'the group committed every partition to its end');

    // Nobody restarts the victim, so a transaction it had open when it died holds back every read_committed
    // reader of the state and metrics topics until the broker times it out (KafkaJS's default transaction
    // timeout, 60 s, plus the broker's 10 s sweep). Fencing its transactional id, as a restart would, aborts
    // it now. No count changes: an open transaction can only be aborted, and one whose commit was already
    // prepared is completed first. The survivor has finished by now, so it took over without this.
    const stable = async (): Promise<number> =>
      withAdmin(kafka, async (admin) => {
        let sum = 0;
        for (const x of [t.checkpoint!.topic, t.outputs.metrics!.topic]) for (const o of await admin.fetchTopicOffsets(x)) sum += Number(o.high);
        return sum;
      });
    const stableBefore = await stable();
    await fence(kafka, `tokrs-${t.name}-${victim.instance}`);
    // The abort markers are written just after the coordinator answers.
    let stableAfter = await stable();
    for (let i = 0; i < 10 && stableAfter === stableBefore; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stableAfter = await stable();
    }
    console.log(stableAfter > stableBefore ? `${victim.instance} died inside a transaction; fencing it let read_committed readers on` : `${victim.instance} died between transactions`);

    const states = await committedProcessStates(kafka, t, INSTANCES);
    // The survivor read on from where the victim's last commit left its partitions.
    const leftOver = await messagesPastCommit(kafka, topic, committedAtKill, victimPartitions);
    assert.ok(leftOver > 0, `${victim.instance}'s partitions had messages left for ${survivor.instance}`);
    const counted = countedAcrossInstances(states);
    const each = INSTANCES.map((instance, i) => `${instance} ${states[i]!.evaluator?.messages}`).join(' + ');
    console.log(`counted ${each}; ${leftOver} of ${victim.instance}'s messages left to ${survivor.instance}`);
    assert.equal(counted.messages, TOTAL, `evaluator messages ${each}: every message once`);
    assert.equal(counted.labelled, TOTAL, 'evaluator labelled: every message once');

    // State per partition: the victim's partitions moved to the survivor with their committed state, so
    // the partitions' committed states count every message once and sample all of them.
    const { partitions, states: taken, scored } = await committedPartitionStates(kafka, t);
    assert.equal(partitions.length, 6, 'a committed state for each partition');
    const byProcesses = scoredByProcesses(states);
    assert.equal(scored, byProcesses, `partitions' totals ${scored}, processes' ${byProcesses}`);
    assert.equal(taken.sampler.count, TOTAL, 'the partitions sampled every message once');

    // A read_committed reader sees each (instance, sequence) window at most once, and each instance's
    // windows in order, up to the last one its committed checkpoint knows of: the windows of the victim's
    // work after that checkpoint died with its open transaction. The survivor's run ends with its complete
    // window.
    const metrics = await readCommittedMetrics(kafka, t.outputs.metrics!.topic, (records) => records.some((m) => m.instance === survivor.instance && m.window.kind === 'complete'));
    INSTANCES.forEach((instance, i) => {
      const sequences = metrics.filter((m) => m.instance === instance).map((m) => m.sequence);
      assert.deepEqual(sequences, Array.from({ length: states[i]!.evaluator!.sequence }, (_, j) => j + 1), `${instance}: each window once, in order`);
    });
    assert.ok(metrics.some((m) => m.instance === survivor.instance && m.window.kind === 'complete'), `${survivor.instance}'s complete window`);
  } finally {
    await live.catch(() => undefined);
    if (LOG_DIR !== undefined) for (const run of runs) writeFileSync(join(LOG_DIR, `kill-one-${run.instance}.log`), run.output());
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  }
});
