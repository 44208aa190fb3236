/**
 * Cost of prequential bookkeeping: `npx tsx bench/evaluate.ts`.
 *
 * 1. ns per message of `Evaluator.observe` with no window, each window kind alone, and all of them (the
 *    default evaluate settings), on a two-label stream.
 * 2. Memory a 60 s time window retains when it holds 3M observations (a stream at 50,000 msg/s), and the
 *    time to add them: the window keeps every observation until it leaves, so this is its footprint.
 * Best of 3 rounds each; the process re-runs itself with --expose-gc to measure retained memory.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Evaluator, type EvaluatorOptions } from '../src/evaluate/evaluator.js';
import { ClassificationSummary } from '../src/evaluate/metrics.js';
import { Rolling } from '../src/evaluate/rolling.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const labels = ['positive', 'negative'];
const observations = Array.from({ length: 4096 }, (_, i) => ({ yTrue: labels[i & 1], yPred: labels[(i >> 1) & 1], pTrue: 0.3 + (i % 7) / 10 }));
const N = 2_000_000;

console.log(`Evaluator.observe, ${N.toLocaleString('en-US')} messages, best of 3 (node ${process.version})`);
const windows: [string, Omit<EvaluatorOptions, 'now'>][] = [
  ['overall only', {}],
  ['count window 1000', { rollingWindow: 1000 }],
  ['time window 60 s', { timeWindowMs: 60_000 }],
  ['fading 0.999', { fadingFactor: 0.999 }],
  ['all three (default settings)', { rollingWindow: 1000, timeWindowMs: 60_000, fadingFactor: 0.999 }],
];
for (const [name, options] of windows) {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const evaluator = new Evaluator({ now: () => Date.now(), ...options });
    const start = performance.now();
    for (let i = 0; i < N; i++) {
      const o = observations[i & 4095];
      evaluator.seen(o.yTrue);
      evaluator.observe(o);
    }
    best = Math.min(best, performance.now() - start);
  }
  console.log(`${name.padEnd(30)} ${((best * 1e6) / N).toFixed(0).padStart(5)} ns/message`);
}

const HELD = 3_000_000;
gc!();
const before = process.memoryUsage();
const window = new Rolling(new ClassificationSummary(), { kind: 'time', ms: 60_000, now: () => 0 });
const start = performance.now();
// A fresh object per message, as the prequential operator makes one for every scored message.
for (let i = 0; i < HELD; i++) window.update({ ...observations[i & 4095] });
const addMs = performance.now() - start;
gc!();
const after = process.memoryUsage();
const retained = after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers;
console.log(
  `\ntime window holding ${HELD.toLocaleString('en-US')} observations: ${(retained / 1e6).toFixed(0)} MB retained ` +
    `(${(retained / HELD).toFixed(0)} bytes each), ${addMs.toFixed(0)} ms to add them (${window.length.toLocaleString('en-US')} held)`,
);
