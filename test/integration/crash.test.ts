/**
 * Issue 8's crash test on the real broker: a 50,000-message exactly-once run, killed with SIGKILL at
 * several random points and restarted each time, ends with an evaluator count of exactly 50,000, and a
 * read_committed reader of the metrics topic sees every window once: report sequence numbers 1..n, each
 * once, in order.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { createRandom } from '../../src/sample/random.js';
import { readCommittedMetrics } from '../support/checkpoints.js';
import { readReviews } from '../support/data.js';
import { testBrokers, testKafka } from '../support/kafka.js';
import { freshTopology, writeTopology } from '../support/topology.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const kafka = testKafka('crash');
const TOTAL = 50_000;

function startRun(file: string): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', file, '--idle-exit', '3000', '--instance', 'crash', '--session-timeout', '6000'], {
    cwd: root,
    env: { ...process.env, KAFKA_BROKERS: testBrokers().join(','), TOKRS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

test('SIGKILL at random points: exactly 50,000 counted, no metrics window twice (exactly-once)', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    guarantee: 'exactly-once',
    checkpoint: { topic: `${base.name}.state`, everyMessages: 3000, everyMs: 1000 },
    // Count-triggered windows only, so the expected windows do not depend on timing.
    evaluate: { ...base.evaluate, reportEvery: 1000, reportEveryMs: 0 },
    outputs: { ...base.outputs, snapshots: { topic: `${base.name}.snapshots`, everyMessages: 10_000 } },
  }));
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const reviews = readReviews();
  const lines = Array.from({ length: TOTAL }, (_, i) => JSON.stringify({ ...reviews[i % reviews.length], id: `m${i}` }));
  await feedLines(kafka, lines, { topic, format: 'json', jsonInput: true, idField: 'id' });
  const file = writeTopology(t);

  const random = createRandom('crash-test');
  const kills: number[] = [];
  for (let k = 0; k < 3; k++) {
    const run = startRun(file);
    // Let it restore, join the group and commit its first checkpoint, then kill it somewhere in the middle
    // of its work (so every restart has a checkpoint to resume from, and work after it to redo).
    const going = (): boolean => run.output().includes('"msg":"checkpoint committed"');
    const started = await Promise.race([
      run.exited.then(() => false),
      (async () => {
        while (!going()) await new Promise((r) => setTimeout(r, 50));
        return true;
      })(),
    ]);
    if (!started) break;
    const delay = 300 + Math.floor(random.next() * 2_500);
    const outcome = await Promise.race([run.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('kill'), delay))]);
    if (outcome === 'exited') break; // It finished before this kill; the remaining kills are moot.
    run.child.kill('SIGKILL');
    await run.exited;
    kills.push(delay);
  }
  assert.ok(kills.length >= 2, `killed at least twice (kills after ${kills.join(', ')} ms)`);
  const final = startRun(file);
  const code = await final.exited;
  assert.equal(code, 0, final.output().slice(-2000));
  const summary = JSON.parse(final.output().trim().split('\n').at(-1)!) as { restoredFrom: number | null; seen: number };
  assert.ok(summary.restoredFrom !== null, 'the last run resumed from a checkpoint');
  assert.equal(summary.seen, TOTAL);

  const metrics = await readCommittedMetrics(kafka, t.outputs.metrics!.topic, (r) => r.some((m) => m.window.kind === 'complete'));
  const sequences = metrics.map((m) => m.sequence);
  assert.deepEqual(sequences, Array.from({ length: sequences.length }, (_, i) => i + 1), 'every window once, none lost');
  const last = metrics.at(-1)!;
  assert.equal(last.window.kind, 'complete');
  assert.equal(last.counts.labelled, TOTAL);
  assert.equal(last.counts.seen, TOTAL);
  const countWindows = metrics.filter((m) => m.window.kind === 'count').map((m) => m.counts.seen);
  assert.deepEqual(countWindows, Array.from({ length: TOTAL / 1000 }, (_, i) => (i + 1) * 1000));
});
