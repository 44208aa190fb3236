import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Evaluator, EVALUATOR_SNAPSHOT_VERSION, type EvaluatorOptions, type EvaluatorSnapshot } from '../../src/evaluate/evaluator.js';
import { decodeEvaluatorSnapshot, encodeEvaluatorSnapshot } from '../../src/evaluate/snapshot-codec.js';
import type { MetricsReport } from '../../src/evaluate/report.js';
import { isTokrsError } from '../../src/errors.js';
import { prng } from '../support/prng.js';


type Op =
  | { op: 'seen'; label: string | undefined }
  | { op: 'reject' }
  | { op: 'observe'; yTrue: string; yPred: string; pTrue?: number; weight?: number }
  | { op: 'report' }
  | { op: 'tick'; ms: number };

/** A random mix of messages, scores, rejects, reports and clock steps; labels appear over time. */
function randomOps(seed: number, n: number): Op[] {
  const r = prng(seed);
  const labels = ['pos', 'neg', 'mid', '中性'];
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const known = labels.slice(0, 1 + Math.min(3, Math.floor(i / 40)));
    const pick = (): string => known[Math.floor(r() * known.length)];
    const x = r();
    if (x < 0.08) ops.push({ op: 'seen', label: undefined });
    else if (x < 0.11) ops.push({ op: 'reject' });
    else if (x < 0.15) ops.push({ op: 'report' });
    else if (x < 0.35) ops.push({ op: 'tick', ms: Math.floor(r() * 40) });
    else {
      const yTrue = pick();
      ops.push({ op: 'seen', label: yTrue });
      if (r() < 0.9) {
        const o: Op = { op: 'observe', yTrue, yPred: r() < 0.6 ? yTrue : pick() };
        if (r() < 0.9) o.pTrue = r() < 0.05 ? 0 : r();
        if (seed % 2 === 1) o.weight = 0.25 + r();
        ops.push(o);
      }
    }
  }
  return ops;
}

/** An evaluator with its own clock, so two of them can be driven in lockstep. */
function clocked(options: Omit<EvaluatorOptions, 'now'>, start: number): { ev: Evaluator; clock: { t: number } } {
  const clock = { t: start };
  return { ev: new Evaluator({ ...options, now: () => clock.t }), clock };
}

const training = { learned: 3, replayed: 1, replays: 1, classes: 2 };

/** A report without what depends on the clock: the emit time and the rates. */
function logical(r: MetricsReport): unknown {
  const { timestamp: _t, throughput, ...rest } = r;
  return { ...rest, messagesInInterval: throughput.messagesInInterval };
}

function apply(target: { ev: Evaluator; clock: { t: number } }, o: Op, out: unknown[]): void {
  switch (o.op) {
    case 'seen':
      return target.ev.seen(o.label);
    case 'reject':
      return target.ev.reject();
    case 'observe':
      return target.ev.observe(o);
    case 'tick':
      target.clock.t += o.ms;
      return;
    case 'report':
      out.push(logical(target.ev.report('count', training)));
  }
}

const settings: Omit<EvaluatorOptions, 'now'>[] = [
  { step: 'all', rollingWindow: 7, timeWindowMs: 60, fadingFactor: 0.9 },
  { step: 'count-only', rollingWindow: 25 },
  { step: 'time-only', timeWindowMs: 15 },
  { step: 'fading-only', fadingFactor: 0.97 },
  { step: 'none' },
];

test('restored evaluators report exactly what an uninterrupted one does, after a JSON round trip, wherever the snapshot is taken', () => {
  let compared = 0;
  for (const options of settings) {
    for (const seed of [1, 2, 3, 4]) {
      const ops = randomOps(seed, 400);
      for (const cut of [0, 1, 37, 120, 199, 333, 399]) {
        const reference = clocked(options, 1000);
        const before: unknown[] = [];
        for (const o of ops.slice(0, cut)) apply(reference, o, before);
        const saved = JSON.stringify(reference.ev.snapshot());
        // The restored evaluator lives in "another process": same clock reading, nothing shared but the JSON.
        const resumed = clocked(options, reference.clock.t);
        resumed.ev.restore(JSON.parse(saved) as EvaluatorSnapshot);
        const expected: unknown[] = [];
        const actual: unknown[] = [];
        for (const o of ops.slice(cut)) {
          apply(reference, o, expected);
          apply(resumed, o, actual);
        }
        expected.push(logical(reference.ev.report('complete', training)));
        actual.push(logical(resumed.ev.report('complete', training)));
        assert.deepEqual(actual, expected, `${options.step}, seed ${seed}, snapshot after op ${cut}`);
        compared += actual.length;
        // Snapshots of the two continued evaluators are the same data too.
        assert.deepEqual(JSON.parse(JSON.stringify(resumed.ev.snapshot())), JSON.parse(JSON.stringify(reference.ev.snapshot())));
      }
    }
  }
  assert.ok(compared > 500, `compared ${compared} reports`);
});

test('the comparison can fail: a fresh evaluator, or one that loses its windows, reports otherwise', () => {
  const options = settings[0];
  const ops = randomOps(5, 300);
  const reference = clocked(options, 0);
  for (const o of ops.slice(0, 150)) apply(reference, o, []);
  const snap = reference.ev.snapshot();
  const withoutWindow: EvaluatorSnapshot = { ...snap, timeWindow: { ...snap.timeWindow!, queue: { labels: [], yTrue: [], yPred: [], pTrue: [], weight: [] }, times: [] } };
  const fresh = clocked(options, reference.clock.t);
  const lossy = clocked(options, reference.clock.t);
  lossy.ev.restore(withoutWindow);
  const [e, f, l]: unknown[][] = [[], [], []];
  for (const o of ops.slice(150)) {
    apply(reference, o, e);
    apply(fresh, o, f);
    apply(lossy, o, l);
  }
  assert.notDeepEqual(f, e);
  assert.notDeepEqual(l, e, 'the time window queue matters: without it, reverts are missing');
});

test('sequence, counts and stream labels continue across a restore', () => {
  const a = clocked({ rollingWindow: 3 }, 0);
  a.ev.seen('x');
  a.ev.observe({ yTrue: 'x', yPred: 'x', pTrue: 0.9 });
  a.ev.seen(undefined);
  a.ev.report('count', training);
  a.ev.seen('y');
  const b = clocked({ rollingWindow: 3 }, 500);
  b.ev.restore(JSON.parse(JSON.stringify(a.ev.snapshot())) as EvaluatorSnapshot);
  b.clock.t = 600;
  const r = b.ev.report('time', training);
  assert.equal(r.sequence, 2);
  assert.deepEqual(r.counts, { messages: 3, labelled: 2, unlabelled: 1, scored: 1, rejected: 0, ...training });
  assert.deepEqual(r.labels.stream.map((l) => [l.label, l.count]), [['x', 1], ['y', 1]]);
  assert.equal(r.throughput.messagesInInterval, 1);
  // Rates count only what this process did since the restore (nothing), over its own clock.
  assert.equal(r.throughput.intervalMs, 100);
  assert.equal(r.throughput.messagesPerSecond, 0);
  assert.equal(r.throughput.overallMessagesPerSecond, 0);
  b.ev.seen('x');
  b.clock.t = 700;
  assert.equal(b.ev.report('time', training).throughput.overallMessagesPerSecond, 1000 / 200);
});

test('a snapshot of another version, kind or window set is rejected with SNAPSHOT, leaving the evaluator untouched', () => {
  const a = clocked({ rollingWindow: 5, fadingFactor: 0.9 }, 0);
  a.ev.seen('x');
  a.ev.observe({ yTrue: 'x', yPred: 'x', pTrue: 1 });
  const snap = a.ev.snapshot();
  assert.equal(snap.version, EVALUATOR_SNAPSHOT_VERSION);
  const target = clocked({ rollingWindow: 5, fadingFactor: 0.9 }, 0);
  const untouched = JSON.stringify(target.ev.snapshot());
  const bad: [string, unknown, Omit<EvaluatorOptions, 'now'>?][] = [
    ['other version', { ...snap, version: EVALUATOR_SNAPSHOT_VERSION + 1 }],
    ['no version', { ...snap, version: undefined }],
    ['other kind', { ...snap, kind: 'uniform' }],
    ['null', null],
    ['a string', 'evaluator'],
    ['negative count', { ...snap, messages: -1 }],
    ['cells missing', { ...snap, overall: { ...snap.overall, confusion: { ...snap.overall.confusion, cells: [] } } }],
    ['bad window label index', { ...snap, rolling: { ...snap.rolling!, queue: { ...snap.rolling!.queue, yTrue: [9] } } }],
    ['NaN in a window', { ...snap, fading: { ...snap.fading!, inner: { ...snap.fading!.inner, logLoss: { sum: null, weight: 1 } } } }],
    ['other count window', snap, { rollingWindow: 6, fadingFactor: 0.9 }],
    ['other fading factor', snap, { rollingWindow: 5, fadingFactor: 0.8 }],
    ['window not configured here', snap, { rollingWindow: 5 }],
    ['window configured here only', snap, { rollingWindow: 5, fadingFactor: 0.9, timeWindowMs: 10 }],
  ];
  for (const [what, s, options] of bad) {
    const t = options === undefined ? target : clocked(options, 0);
    const saved = JSON.stringify(t.ev.snapshot());
    assert.throws(
      () => t.ev.restore(s as EvaluatorSnapshot),
      (e: unknown) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT') && e.message.length > 20,
      what,
    );
    assert.equal(JSON.stringify(t.ev.snapshot()), saved, `${what}: nothing changed`);
  }
  assert.equal(JSON.stringify(target.ev.snapshot()), untouched);
});

test('evaluator snapshot bytes: JSON round trip, and garbage is a SNAPSHOT error', () => {
  const a = clocked(settings[0], 0);
  const out: unknown[] = [];
  for (const o of randomOps(9, 500)) apply(a, o, out);
  const snap = a.ev.snapshot();
  const bytes = encodeEvaluatorSnapshot(snap);
  assert.deepEqual(decodeEvaluatorSnapshot(bytes), JSON.parse(JSON.stringify(snap)));
  const b = clocked(settings[0], a.clock.t);
  b.ev.restore(decodeEvaluatorSnapshot(bytes));
  assert.deepEqual(logical(b.ev.report('complete', training)), logical(a.ev.report('complete', training)));
  for (const garbage of [new Uint8Array(0), bytes.subarray(0, bytes.length - 1), bytes.subarray(0, 10), Uint8Array.of(0xff, 0xfe, 0x00), new TextEncoder().encode('{"kind":"model"}')]) {
    assert.throws(() => decodeEvaluatorSnapshot(garbage), (e: unknown) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT'));
  }
});
