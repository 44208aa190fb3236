import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, asyncScheduler, tap, type SchedulerLike } from 'rxjs';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { prequential, type PrequentialOptions, type PrequentialOutput } from '../../src/evaluate/prequential.js';
import type { EvaluatorSnapshot } from '../../src/evaluate/evaluator.js';
import { decodeEvaluatorSnapshot, encodeEvaluatorSnapshot } from '../../src/evaluate/snapshot-codec.js';
import { LearnerHandle, type LearnerSnapshot } from '../../src/learn/handle.js';
import type { PolicySnapshot } from '../../src/learn/policy.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../../src/learn/snapshot-codec.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { train } from '../../src/learn/train.js';
import { createRandom } from '../../src/sample/random.js';
import type { Sampler, SamplerSnapshot } from '../../src/sample/sampler.js';
import { StratifiedReservoir } from '../../src/sample/stratified.js';
import { UniformReservoir } from '../../src/sample/uniform.js';
import { isTokrsError, type TokrsError } from '../../src/errors.js';
import type { Example, FeaturedRecord } from '../../src/topology/record.js';

const DIM = 64;
const LABELS = ['pos', 'neg', 'neu'];

/** A noisy 3-class stream with unlabelled messages, a few the model rejects, and irregular event times. */
function stream(n: number, seed: number): FeaturedRecord[] {
  const r = createRandom(seed);
  let t = 1_700_000_000_000;
  return Array.from({ length: n }, (_, i) => {
    t += Math.floor(r.next() * 30);
    const k = Math.floor(r.next() * 3);
    const words = [k * 15 + Math.floor(r.next() * 12), k * 15 + Math.floor(r.next() * 12), 50 + Math.floor(r.next() * 14)];
    if (r.next() < 0.2) words.push(Math.floor(r.next() * 64));
    const idx = [...new Set(words)].sort((a, b) => a - b);
    const x = r.next();
    const label = x < 0.15 ? undefined : LABELS[x < 0.25 ? Math.floor(r.next() * 3) : k];
    const dim = x > 0.99 ? 32 : DIM; // wrong hash size: rejected
    const features: SparseVector = { indices: Int32Array.from(idx), values: Float32Array.from(idx, () => 0.2 + r.next()), dim };
    return { id: `m${i}`, text: '', label, timestamp: t, tokens: [], tokenCount: idx.length, truncated: false, features };
  });
}

/** One "process": a clock driven by event time, a reservoir offered upstream, the operator. */
function run(options: Omit<PrequentialOptions, 'createModel' | 'reservoir' | 'scheduler' | 'handle'>, reservoir: Sampler<Example>) {
  const clock = { t: 0 };
  const scheduler: SchedulerLike = { now: () => clock.t, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
  const handle = new LearnerHandle();
  const input = new Subject<FeaturedRecord>();
  const out: PrequentialOutput[] = [];
  const errors: unknown[] = [];
  const subscription = input
    .pipe(
      tap((r) => {
        clock.t = r.timestamp;
        if (r.label !== undefined && r.features.dim === DIM) reservoir.offer({ features: r.features, label: r.label, tokenCount: r.tokenCount, timestamp: r.timestamp });
      }),
      prequential({ ...options, createModel: () => new SoftmaxSgd({ dim: DIM }), reservoir: () => reservoir, scheduler, handle, reject: () => undefined }),
    )
    .subscribe({ next: (o) => out.push(o), error: (e: unknown) => errors.push(e) });
  return { handle, input, out, errors, subscription, reservoir };
}

/** Outputs without what depends on the clock: report timestamps and rates. */
function logical(out: PrequentialOutput[]): unknown[] {
  return out.map((o) => {
    if (o.type === 'prediction') return { id: o.record.id, prediction: o.prediction };
    const { timestamp: _t, throughput, ...rest } = o.report;
    return { ...rest, messagesInInterval: throughput.messagesInInterval };
  });
}

const options = {
  train: { learnOn: 'both', replayEvery: 6, replayBatch: 5 },
  evaluate: { reportEvery: 13, reportEveryMs: 0, rollingWindow: 20, timeWindowMs: 400, fadingFactor: 0.95, emitPredictions: 'all' },
} as const;

/** What goes over the wire: model bytes, evaluator bytes, policy JSON; the reservoir snapshot as given. */
function throughBytes(s: LearnerSnapshot): LearnerSnapshot {
  return {
    model: decodeModelSnapshot(encodeModelSnapshot(s.model)),
    policy: JSON.parse(JSON.stringify(s.policy)) as PolicySnapshot,
    evaluator: decodeEvaluatorSnapshot(encodeEvaluatorSnapshot(s.evaluator!)),
  };
}

const reservoirs: [string, (seed: number) => Sampler<Example>][] = [
  ['uniform', (seed) => new UniformReservoir<Example>(25, createRandom(seed))],
  ['stratified', (seed) => new StratifiedReservoir<Example>({ mode: 'shared', capacity: 24, label: (e) => e.label }, createRandom(seed))],
];

for (const [name, makeReservoir] of reservoirs) {
  test(`prequential over a ${name} reservoir: two halves restored from model + policy + evaluator + reservoir snapshots equal one run`, () => {
    const data = stream(600, 11);
    const probe = stream(30, 12).map((r) => ({ ...r, features: { ...r.features, dim: DIM } }));
    const whole = run(options, makeReservoir(1));
    data.forEach((r) => whole.input.next(r));
    const wholeState = whole.handle.snapshotState()!;
    whole.input.complete();
    assert.deepEqual(whole.errors, []);
    const wholeModel = new SoftmaxSgd({ dim: DIM });
    wholeModel.restore(wholeState.model);
    const lastReport = whole.out.at(-1);
    assert.ok(lastReport?.type === 'report' && lastReport.report.counts.messages === 600 && lastReport.report.counts.replays > 50);

    for (const cut of [1, 77, 300, 599]) {
      const first = run(options, makeReservoir(1));
      data.slice(0, cut).forEach((r) => first.input.next(r));
      const saved = throughBytes(first.handle.snapshotState()!);
      const reservoir: SamplerSnapshot<Example> = first.reservoir.snapshot();
      first.subscription.unsubscribe(); // the process dies: no "complete" report

      const restored = makeReservoir(777); // another seed: the PRNG state must come from the snapshot
      restored.restore(reservoir);
      const second = run({ ...options, initial: saved.model, initialPolicy: saved.policy, initialEvaluator: saved.evaluator }, restored);
      data.slice(cut).forEach((r) => second.input.next(r));
      const secondState = second.handle.snapshotState()!;
      second.input.complete();
      assert.deepEqual(second.errors, []);

      assert.deepEqual(logical([...first.out, ...second.out]), logical(whole.out), `cut ${cut}: same predictions and reports`);
      assert.deepEqual(secondState.policy, wholeState.policy);
      assert.deepEqual(secondState.evaluator, wholeState.evaluator);
      const model = new SoftmaxSgd({ dim: DIM });
      model.restore(secondState.model);
      for (const r of probe) assert.deepEqual(model.predictProba(r.features), wholeModel.predictProba(r.features), `cut ${cut}: model`);
    }
  });
}

test('the operator comparison can fail: restoring the model alone gives other reports', () => {
  const data = stream(300, 13);
  const whole = run(options, new UniformReservoir<Example>(25, createRandom(1)));
  data.forEach((r) => whole.input.next(r));
  whole.input.complete();
  const first = run(options, new UniformReservoir<Example>(25, createRandom(1)));
  data.slice(0, 150).forEach((r) => first.input.next(r));
  const saved = first.handle.snapshotState()!;
  const restored = new UniformReservoir<Example>(25, createRandom(1));
  restored.restore(first.reservoir.snapshot());
  first.subscription.unsubscribe();
  const second = run({ ...options, initial: saved.model }, restored);
  data.slice(150).forEach((r) => second.input.next(r));
  second.input.complete();
  assert.notDeepEqual(logical([...first.out, ...second.out]), logical(whole.out));
});

test('an evaluator snapshot from other evaluate settings makes the subscription error with SNAPSHOT', () => {
  const first = run(options, new UniformReservoir<Example>(25, createRandom(1)));
  stream(50, 14).forEach((r) => first.input.next(r));
  const saved = first.handle.snapshotState()!;
  first.subscription.unsubscribe();
  const other = { ...options, evaluate: { ...options.evaluate, rollingWindow: 50 } };
  const second = run({ ...other, initialEvaluator: saved.evaluator }, new UniformReservoir<Example>(25, createRandom(1)));
  assert.equal(second.errors.length, 1);
  assert.ok(isTokrsError(second.errors[0], 'TOKRS_ERR_SNAPSHOT'), String(second.errors[0]));
  assert.match((second.errors[0] as TokrsError).message, /rolling|window/);
  const wrongVersion = run({ ...options, initialEvaluator: { ...saved.evaluator!, version: 99 } as EvaluatorSnapshot }, new UniformReservoir<Example>(25, createRandom(1)));
  assert.ok(isTokrsError(wrongVersion.errors[0], 'TOKRS_ERR_SNAPSHOT'));
});

test('train operator: initial + initialPolicy resume the same learning', () => {
  const data = stream(400, 15).filter((r) => r.features.dim === DIM);
  const trainOptions = { createModel: () => new SoftmaxSgd({ dim: DIM }), train: { learnOn: 'both', replayEvery: 4, replayBatch: 3 } } as const;
  const go = (records: FeaturedRecord[], reservoir: Sampler<Example>, extra: object = {}) => {
    const handle = new LearnerHandle();
    const input = new Subject<FeaturedRecord>();
    input
      .pipe(
        tap((r) => r.label !== undefined && reservoir.offer({ features: r.features, label: r.label, tokenCount: r.tokenCount, timestamp: r.timestamp })),
        train({ ...trainOptions, ...extra, reservoir: () => reservoir, handle }),
      )
      .subscribe();
    records.forEach((r) => input.next(r));
    const state = handle.snapshotState()!;
    input.complete();
    assert.equal(handle.current, undefined, 'detached on complete');
    assert.equal(state.evaluator, undefined);
    return { state, reservoir };
  };
  const whole = go(data, new UniformReservoir<Example>(20, createRandom(5)));
  const first = go(data.slice(0, 123), new UniformReservoir<Example>(20, createRandom(5)));
  const restored = new UniformReservoir<Example>(20, createRandom(6));
  restored.restore(first.reservoir.snapshot());
  const second = go(data.slice(123), restored, { initial: first.state.model, initialPolicy: first.state.policy });
  assert.deepEqual(second.state.policy, whole.state.policy);
  assert.deepEqual(second.state.model, whole.state.model);
});
