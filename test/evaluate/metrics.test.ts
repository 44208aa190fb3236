import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Accuracy,
  ClassificationSummary,
  CohenKappa,
  F1,
  LogLoss,
  MacroF1,
  MicroF1,
  Precision,
  Recall,
  WeightedF1,
  type Metric,
  type Observation,
} from '../../src/evaluate/metrics.js';
import { Rolling } from '../../src/evaluate/rolling.js';
import { prng } from '../support/prng.js';


function randomSequence(seed: number, n: number, labels: string[]): Observation[] {
  const r = prng(seed);
  const out: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const yTrue = labels[Math.floor(r() * labels.length)];
    // Correct more often than chance, so the figures are not all near zero.
    const yPred = r() < 0.5 ? yTrue : labels[Math.floor(r() * labels.length)];
    out.push({ yTrue, yPred, pTrue: r() < 0.05 ? 0 : r(), weight: seed % 2 === 0 ? 1 : 0.5 + r() });
  }
  return out;
}

/**
 * The batch formulas, written out plainly over (observation, weight) pairs, with no confusion-matrix class:
 * the independent reference every online figure is compared with.
 */
function batch(items: { o: Observation; w: number }[]) {
  const labels = [...new Set(items.flatMap(({ o }) => [o.yTrue, o.yPred]))];
  let n = 0;
  let correct = 0;
  let ll = 0;
  let llw = 0;
  for (const { o, w } of items) {
    n += w;
    if (o.yTrue === o.yPred) correct += w;
    if (o.pTrue !== undefined) {
      ll += w * -Math.log(Math.min(1, Math.max(o.pTrue, 1e-15)));
      llw += w;
    }
  }
  const per = labels.map((label) => {
    let tp = 0;
    let predicted = 0;
    let actual = 0;
    for (const { o, w } of items) {
      if (o.yPred === label) predicted += w;
      if (o.yTrue === label) actual += w;
      if (o.yPred === label && o.yTrue === label) tp += w;
    }
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = actual > 0 ? tp / actual : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support: actual, predicted };
  });
  const accuracy = n > 0 ? correct / n : 0;
  const mean = (f: (c: (typeof per)[number]) => number) => (per.length ? per.reduce((s, c) => s + f(c), 0) / per.length : 0);
  let tpAll = 0;
  let fpAll = 0;
  let fnAll = 0;
  for (const c of per) {
    tpAll += c.precision * c.predicted;
    fpAll += c.predicted - c.precision * c.predicted;
    fnAll += c.support - c.recall * c.support;
  }
  const microP = tpAll + fpAll > 0 ? tpAll / (tpAll + fpAll) : 0;
  const microR = tpAll + fnAll > 0 ? tpAll / (tpAll + fnAll) : 0;
  const pe = n > 0 ? per.reduce((s, c) => s + c.support * c.predicted, 0) / (n * n) : 0;
  return {
    accuracy,
    macroF1: mean((c) => c.f1),
    macroPrecision: mean((c) => c.precision),
    macroRecall: mean((c) => c.recall),
    microF1: microP + microR > 0 ? (2 * microP * microR) / (microP + microR) : 0,
    weightedF1: n > 0 ? per.reduce((s, c) => s + c.support * c.f1, 0) / n : 0,
    logLoss: llw > 0 ? ll / llw : 0,
    kappa: n > 0 && 1 - pe > 1e-15 ? (accuracy - pe) / (1 - pe) : 0,
    per,
    count: n,
  };
}

const close = (actual: number, expected: number, what: string) => {
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
};

type Variant = { name: string; wrap: <V>(m: Metric<V>) => Metric<V>; weights: (seq: Observation[], i: number) => { o: Observation; w: number }[] };

const plain = (seq: Observation[], i: number) => seq.slice(0, i + 1).map((o) => ({ o, w: o.weight ?? 1 }));
const variants: Variant[] = [
  { name: 'plain', wrap: (m) => m, weights: plain },
  {
    name: 'rolling(7)',
    wrap: (m) => new Rolling(m, 7),
    weights: (seq, i) => plain(seq, i).slice(Math.max(0, i + 1 - 7)),
  },
  {
    name: 'fading(0.9)',
    wrap: (m) => new Rolling(m, { kind: 'fading', factor: 0.9 }),
    weights: (seq, i) => plain(seq, i).map(({ o, w }, k) => ({ o, w: w * 0.9 ** (i - k) })),
  },
];

const scalarMetrics: { name: string; make: () => Metric<number>; pick: (b: ReturnType<typeof batch>) => number }[] = [
  { name: 'accuracy', make: () => new Accuracy(), pick: (b) => b.accuracy },
  { name: 'macroF1', make: () => new MacroF1(), pick: (b) => b.macroF1 },
  { name: 'microF1', make: () => new MicroF1(), pick: (b) => b.microF1 },
  { name: 'weightedF1', make: () => new WeightedF1(), pick: (b) => b.weightedF1 },
  { name: 'kappa', make: () => new CohenKappa(), pick: (b) => b.kappa },
  { name: 'logLoss', make: () => new LogLoss(), pick: (b) => b.logLoss },
  { name: 'precision(b)', make: () => Precision('b'), pick: (b) => b.per.find((c) => c.label === 'b')?.precision ?? 0 },
  { name: 'recall(b)', make: () => Recall('b'), pick: (b) => b.per.find((c) => c.label === 'b')?.recall ?? 0 },
  { name: 'f1(c)', make: () => F1('c'), pick: (b) => b.per.find((c) => c.label === 'c')?.f1 ?? 0 },
];

for (const variant of variants) {
  for (const metric of scalarMetrics) {
    test(`${metric.name} ${variant.name} equals the batch formula after every prefix`, () => {
      for (const seed of [1, 2, 3, 4]) {
        const seq = randomSequence(seed, 80, seed < 3 ? ['a', 'b', 'c'] : ['a', 'b', 'c', 'd', 'e']);
        const m = variant.wrap(metric.make());
        seq.forEach((o, i) => {
          m.update(o);
          close(m.get(), metric.pick(batch(variant.weights(seq, i))), `${metric.name} seed ${seed} prefix ${i + 1}`);
        });
      }
    });
  }

  test(`ClassificationSummary ${variant.name}: every figure, per class and the confusion matrix after every prefix`, () => {
    for (const seed of [5, 6]) {
      const seq = randomSequence(seed, 60, ['x', 'y', 'z', 'w']);
      const m = variant.wrap(new ClassificationSummary());
      seq.forEach((o, i) => {
        m.update(o);
        const got = m.get();
        const items = variant.weights(seq, i);
        const want = batch(items);
        for (const k of ['accuracy', 'macroF1', 'microF1', 'weightedF1', 'logLoss', 'kappa', 'count', 'macroPrecision', 'macroRecall'] as const) {
          close(got[k], want[k], `${k} prefix ${i + 1}`);
        }
        assert.deepEqual(new Set(got.perClass.map((c) => c.label)), new Set(want.per.map((c) => c.label)));
        for (const c of got.perClass) {
          const w = want.per.find((x) => x.label === c.label)!;
          close(c.precision, w.precision, `precision ${c.label}`);
          close(c.recall, w.recall, `recall ${c.label}`);
          close(c.f1, w.f1, `f1 ${c.label}`);
          close(c.support, w.support, `support ${c.label}`);
        }
        got.confusion.labels.forEach((t, a) =>
          got.confusion.labels.forEach((p, b) => {
            const cell = items.filter(({ o }) => o.yTrue === t && o.yPred === p).reduce((s, { w }) => s + w, 0);
            close(got.confusion.matrix[a][b], cell, `cell ${t}->${p}`);
          }),
        );
      });
    }
  });
}

test('time window: only observations of the last ms count, at every step of a virtual clock', () => {
  let now = 0;
  const seq = randomSequence(8, 100, ['a', 'b', 'c']);
  const times: number[] = [];
  const m = new Rolling(new ClassificationSummary(), { kind: 'time', ms: 50, now: () => now });
  const r = prng(99);
  seq.forEach((o, i) => {
    now += Math.floor(r() * 12);
    times.push(now);
    m.update(o);
    const items = seq.slice(0, i + 1).map((x, k) => ({ o: x, w: x.weight ?? 1, t: times[k] })).filter((x) => x.t > now - 50);
    const want = batch(items);
    const got = m.get();
    close(got.accuracy, want.accuracy, `accuracy at ${now}`);
    close(got.macroF1, want.macroF1, `macroF1 at ${now}`);
    close(got.kappa, want.kappa, `kappa at ${now}`);
    close(got.logLoss, want.logLoss, `logLoss at ${now}`);
  });
  // With no new observations, reading later empties the window.
  now += 1000;
  assert.equal(m.get().count, 0);
  assert.equal(m.get().accuracy, 0);
});

test('revert undoes update exactly (count windows never drift)', () => {
  const seq = randomSequence(2, 500, ['a', 'b']);
  const m = new ClassificationSummary();
  for (const o of seq) m.update(o);
  for (const o of seq) m.revert(o);
  const got = m.get();
  assert.equal(got.count, 0);
  assert.equal(got.logLoss, 0);
  assert.deepEqual(got.perClass, []);
});

test('weighted observations: a label that left the window leaves no residue; small weights are kept', () => {
  // 0.1 + 0.2 - 0.1 - 0.2 is not 0 in floating point: the label that left would stay a class of its own.
  const roll = new Rolling(new ClassificationSummary(), 3);
  for (const o of [
    { yTrue: 'rare', yPred: 'rare', weight: 0.1 },
    { yTrue: 'rare', yPred: 'rare', weight: 0.2 },
    { yTrue: 'rare', yPred: 'a', weight: 0.3 },
    { yTrue: 'a', yPred: 'a', weight: 1 },
    { yTrue: 'b', yPred: 'b', weight: 1 },
    { yTrue: 'a', yPred: 'a', weight: 1 },
  ]) roll.update(o);
  const windowed = roll.get();
  assert.deepEqual(windowed.perClass.map((c) => c.label), ['a', 'b']);
  close(windowed.macroF1, 1, 'macro-F1 of a window where every prediction is right');
  close(windowed.accuracy, 1, 'accuracy');
  // Weights of 1e-13 are valid (>= 0) and must count, not be taken for a residue.
  const small = new ClassificationSummary();
  small.update({ yTrue: 'a', yPred: 'a', weight: 1e-13, pTrue: 0.9 });
  small.update({ yTrue: 'a', yPred: 'a', weight: 1e-13, pTrue: 0.9 });
  small.revert({ yTrue: 'a', yPred: 'a', weight: 1e-13, pTrue: 0.9 });
  const got = small.get();
  close(got.count, 1e-13, 'count');
  close(got.accuracy, 1, 'accuracy');
  close(got.logLoss, -Math.log(0.9), 'log-loss');
  // A heavy observation leaving must not take a light one with it.
  const mixed = new ClassificationSummary();
  mixed.update({ yTrue: 'a', yPred: 'a', weight: 1e6, pTrue: 0.5 });
  mixed.update({ yTrue: 'b', yPred: 'b', weight: 1e-4, pTrue: 0.9 });
  mixed.revert({ yTrue: 'a', yPred: 'a', weight: 1e6, pTrue: 0.5 });
  const left = mixed.get();
  assert.deepEqual(left.perClass.map((c) => c.label), ['b']);
  assert.ok(Math.abs(left.count - 1e-4) < 1e-9, `count ${left.count}`);
  close(left.accuracy, 1, 'accuracy after the heavy one left');
  assert.ok(Math.abs(left.logLoss + Math.log(0.9)) < 1e-4, `log-loss ${left.logLoss}`);
});

test('Rolling doc example', () => {
  const acc = new Rolling(new Accuracy(), 3);
  for (const [t, p] of [['a', 'a'], ['a', 'b'], ['b', 'b'], ['b', 'b']]) acc.update({ yTrue: t, yPred: p });
  close(acc.get(), 2 / 3, 'rolling accuracy');
});

test('bad window settings are CONFIG errors', () => {
  assert.throws(() => new Rolling(new Accuracy(), 0), { code: 'TOKRS_ERR_CONFIG' });
  assert.throws(() => new Rolling(new Accuracy(), { kind: 'fading', factor: 1.5 }), { code: 'TOKRS_ERR_CONFIG' });
  assert.throws(() => new Accuracy().update({ yTrue: 'a', yPred: 'a', weight: Number.NaN }), { code: 'TOKRS_ERR_CONFIG' });
});
