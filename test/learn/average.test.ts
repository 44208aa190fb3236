import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { averageModels } from '../../src/learn/average.js';
import type { ModelSnapshot } from '../../src/learn/classifier.js';
import { adagrad, ftrl, sgd, type Optimizer } from '../../src/learn/optimizers.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../../src/learn/snapshot-codec.js';
import { SoftmaxSgd, type SoftmaxSgdOptions } from '../../src/learn/softmax-sgd.js';
import { prng } from '../support/prng.js';

const DIM = 64;
const CLASSES = ['a', 'b', 'c'];

/**
 * A linearly separable stream: class c owns features [16c, 16c + 16); each example has three of its own
 * features and one shared noise feature from [48, 64).
 */
function example(r: () => number, label = CLASSES[Math.floor(r() * CLASSES.length)]): { x: SparseVector; y: string } {
  const c = CLASSES.indexOf(label);
  const set = new Set<number>();
  while (set.size < 3) set.add(16 * c + Math.floor(r() * 16));
  set.add(48 + Math.floor(r() * 16));
  const indices = Int32Array.from([...set].sort((p, q) => p - q));
  return { x: { indices, values: Float32Array.from(indices, () => 0.5 + r()), dim: DIM }, y: label };
}

function stream(seed: number, n: number, labels = CLASSES): { x: SparseVector; y: string }[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => example(r, labels[Math.floor(r() * labels.length)]));
}

function trained(options: Omit<SoftmaxSgdOptions, 'dim'>, data: readonly { x: SparseVector; y: string }[]): SoftmaxSgd {
  const m = new SoftmaxSgd({ dim: DIM, hashing: { bits: 6 }, ...options });
  for (const { x, y } of data) m.learn(x, y);
  return m;
}

function restored(s: ModelSnapshot): SoftmaxSgd {
  const m = new SoftmaxSgd({ dim: DIM, hashing: { bits: 6 } });
  m.restore(s);
  return m;
}

/** Probabilities of `model` for x, by label, in the order of `labels`. */
function probaOf(model: SoftmaxSgd, x: SparseVector, labels: readonly string[]): number[] {
  const p = model.predictProba(x);
  return labels.map((l) => p[model.labels.indexOf(l)]);
}

/**
 * The independent reference: each model's log-probability of a label is its score minus a constant (its
 * log-partition), and a label it never saw scores like its first label (a new label gets a zero row);
 * the softmax of the weighted mean of those is the prediction of the averaged scores.
 */
function referenceProba(models: readonly SoftmaxSgd[], shares: readonly number[], labels: readonly string[], x: SparseVector): number[] {
  const total = shares.reduce((s, v) => s + v, 0);
  const mean = labels.map((l) =>
    models.reduce((s, m, i) => {
      if (m.labels.length === 0) return s;
      const p = m.predictProba(x);
      const k = m.labels.indexOf(l);
      return s + (shares[i] / total) * Math.log(p[k < 0 ? 0 : k]);
    }, 0),
  );
  const max = Math.max(...mean);
  const e = mean.map((v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let k = 0; k < actual.length; k++) {
    assert.ok(Math.abs(actual[k] - expected[k]) <= tolerance, `${what}: [${actual.join(', ')}] vs [${expected.join(', ')}]`);
  }
}

const settings: [string, Omit<SoftmaxSgdOptions, 'dim'>][] = [
  ['sgd', { optimizer: sgd({ lr: 0.3 }) }],
  ['sgd invscaling + lazy L1/L2', { optimizer: sgd({ lr: 0.5, schedule: 'invscaling' }), l1: 0.001, l2: 0.01 }],
  ['adagrad', { optimizer: adagrad({ lr: 0.3 }) }],
  ['adagrad + lazy L1/L2', { optimizer: adagrad({ lr: 0.3 }), l1: 0.0005, l2: 0.001 }],
  ['ftrl', { optimizer: ftrl({ alpha: 0.5 }) }],
  ['ftrl + L1/L2', { optimizer: ftrl({ alpha: 0.5 }), l1: 0.05, l2: 0.01 }],
];

for (const [name, options] of settings) {
  test(`a model averaged with itself predicts and keeps learning as before (${name})`, () => {
    const data = stream(1, 300);
    const model = trained(options, data);
    const mixed = restored(averageModels([model.snapshot(), model.snapshot()]));
    assert.deepEqual(mixed.labels, model.labels);
    assert.equal(mixed.updates, model.updates);
    const later = stream(2, 200);
    for (const { x } of later.slice(0, 50)) assertClose(probaOf(mixed, x, model.labels), probaOf(model, x, model.labels), 1e-6, 'prediction');
    // Same optimizer state and counters: the same further learning.
    for (const { x, y } of later) {
      model.learn(x, y);
      mixed.learn(x, y);
    }
    for (const { x } of stream(3, 50)) assertClose(probaOf(mixed, x, model.labels), probaOf(model, x, model.labels), 1e-4, 'after further learning');
  });

  test(`models of disjoint halves average to the mean of their scores, in any label order (${name})`, () => {
    const data = stream(4, 600);
    // The halves discover the classes in different orders (so with different pivots), and the second half never sees 'c'.
    const first = trained(options, [example(prng(5), 'c'), ...data.slice(0, 300)]);
    const second = trained(options, data.slice(300).filter((e) => e.y !== 'c'));
    assert.notEqual(first.labels[0], second.labels[0]);
    const ab = averageModels([first.snapshot(), second.snapshot()]);
    const ba = averageModels([second.snapshot(), first.snapshot()]);
    assert.deepEqual(ab.labels, [...first.labels]);
    assert.deepEqual(ba.labels, [...second.labels, 'c']);
    const mab = restored(ab);
    const mba = restored(ba);
    // Default weights: examples learned.
    const shares = [first.updates, second.updates];
    const test = stream(6, 200);
    for (const { x } of test) {
      const expected = referenceProba([first, second], shares, CLASSES, x);
      assertClose(probaOf(mab, x, CLASSES), expected, 1e-5, 'first, second');
      assertClose(probaOf(mba, x, CLASSES), expected, 1e-5, 'second, first');
    }
    // Explicit weights.
    const weighted = restored(averageModels([first.snapshot(), second.snapshot()], [1, 3]));
    for (const { x } of test.slice(0, 50)) assertClose(probaOf(weighted, x, CLASSES), referenceProba([first, second], [1, 3], CLASSES, x), 1e-5, 'weights 1, 3');
    // And the average is a good model of the separable stream (it scores 'c' with the first half's evidence).
    const correct = test.filter(({ x, y }) => mab.predict(x) === y).length;
    assert.ok(correct >= 0.9 * test.length, `accuracy ${correct / test.length}`);
  });
}

for (const [name, optimizer] of [
  ['adagrad', adagrad({ lr: 0.3 })],
  ['ftrl', ftrl({ alpha: 0.5 })],
] as [string, Optimizer][]) {
  test(`binary models keep learning alike whichever pivot the average takes (${name})`, () => {
    // With two classes the two parametrisations are exact mirrors (gradients opposite, squared gradients
    // equal), so both orders must learn on identically: that needs each class's accumulator carried over
    // correctly, including the one of a model's own pivot, which that model does not store.
    const first = trained({ optimizer }, [example(prng(17), 'a'), ...stream(18, 300, ['a', 'b'])]);
    const second = trained({ optimizer }, [example(prng(19), 'b'), ...stream(20, 100, ['a', 'b'])]);
    const ab = restored(averageModels([first.snapshot(), second.snapshot()]));
    const ba = restored(averageModels([second.snapshot(), first.snapshot()]));
    assert.deepEqual([ab.labels, ba.labels], [['a', 'b'], ['b', 'a']]);
    for (const { x, y } of stream(21, 300, ['a', 'b'])) {
      ab.learn(x, y);
      ba.learn(x, y);
    }
    for (const { x } of stream(22, 50)) assertClose(probaOf(ab, x, ['a', 'b']), probaOf(ba, x, ['a', 'b']), 1e-5, 'after further learning');
  });
}

test('class counts, updates and step are weighted means', () => {
  const first = trained({ optimizer: sgd({ schedule: 'invscaling' }) }, stream(7, 300));
  const second = trained({ optimizer: sgd({ schedule: 'invscaling' }) }, stream(8, 100, ['b', 'c']));
  const mixed = averageModels([first.snapshot(), second.snapshot()]);
  const count = (m: SoftmaxSgd, l: string): number => {
    const k = m.labels.indexOf(l);
    return k < 0 ? 0 : (m.snapshot().arrays.classCounts[k] ?? 0);
  };
  const counts = mixed.arrays.classCounts;
  mixed.labels.forEach((l, k) => assert.ok(Math.abs(counts[k] - (0.75 * count(first, l) + 0.25 * count(second, l))) < 1e-9, l));
  assert.equal(mixed.meta.updates, 250);
  assert.equal(mixed.meta.step, 250);
});

for (const [name, optimizer] of [
  ['sgd', sgd({ lr: 0.5 })],
  ['adagrad', adagrad({ lr: 0.5 })],
] as [string, Optimizer][]) {
  test(`pending lazy L1/L2 decay is applied before averaging (${name})`, () => {
    const r = prng(9);
    // Features [0, 16) (class a) are learned first, then only [16, 32) (class b) and noise for many steps, so
    // the class-a weights owe a long decay that their stored values do not show yet.
    const early = Array.from({ length: 100 }, () => example(r, r() < 0.5 ? 'a' : 'b'));
    const late = Array.from({ length: 400 }, () => example(r, 'b'));
    const model = trained({ optimizer, l1: 0.002, l2: 0.02 }, [...early, ...late]);
    const probe = early.filter((e) => e.y === 'a').map((e) => e.x);
    const mixed = restored(averageModels([model.snapshot(), model.snapshot()]));
    for (const x of probe) assertClose(probaOf(mixed, x, model.labels), probaOf(model, x, model.labels), 1e-6, 'caught up');
    // The same snapshot with its clocks dropped and no catch-up predicts differently: the test can see the
    // difference it guards against.
    const s = model.snapshot();
    const stale = restored({ ...s, meta: { ...s.meta, cumA: 0, cumB: 0 }, arrays: { ...s.arrays, lastA: new Float64Array(s.arrays.lastA!.length), ...(s.arrays.lastB === undefined ? {} : { lastB: new Float64Array(s.arrays.lastB.length) }) } });
    const gap = Math.max(...probe.map((x) => Math.abs(probaOf(stale, x, model.labels)[0] - probaOf(model, x, model.labels)[0])));
    assert.ok(gap > 1e-3, `stale weights differ by only ${gap}`);
  });
}

test('refuses models that do not mean the same thing, and bad weights', () => {
  const base = trained({ optimizer: adagrad({ lr: 0.3 }), l2: 0.001 }, stream(10, 50));
  const s = base.snapshot();
  const snapshotError = (e: unknown) => isTokrsError(e, ERROR_CODES.SNAPSHOT);
  const configError = (e: unknown) => isTokrsError(e, ERROR_CODES.CONFIG);
  const other = (options: Omit<SoftmaxSgdOptions, 'dim'>) => trained(options, stream(11, 50)).snapshot();
  assert.throws(() => averageModels([s, { ...s, kind: 'tfjs' }]), snapshotError);
  assert.throws(() => averageModels([s, { ...s, dim: 128 }]), snapshotError);
  assert.throws(() => averageModels([s, { ...s, hashing: { bits: 6, seed: 1 } }]), snapshotError);
  assert.throws(() => averageModels([s, other({ optimizer: adagrad({ lr: 0.1 }), l2: 0.001 })]), /model.optimizer/);
  assert.throws(() => averageModels([s, other({ optimizer: sgd({ lr: 0.3 }), l2: 0.001 })]), snapshotError);
  assert.throws(() => averageModels([s, other({ optimizer: adagrad({ lr: 0.3 }), l2: 0.002 })]), /model.l2/);
  assert.throws(() => averageModels([s, other({ optimizer: adagrad({ lr: 0.3 }), l2: 0.001, intercept: false })]), /model.intercept/);
  assert.throws(() => averageModels([s, other({ optimizer: adagrad({ lr: 0.3 }), l2: 0.001, classWeights: 'balanced' })]), /model.classWeights/);
  assert.throws(() => averageModels([s, { ...s, arrays: { ...s.arrays, w: new Float32Array(1) } }]), snapshotError);
  assert.throws(() => averageModels([]), configError);
  assert.throws(() => averageModels([s, s], [1]), configError);
  assert.throws(() => averageModels([s, s], [1, -1]), configError);
  assert.throws(() => averageModels([s, s], [0, 0]), configError);
  const two = trained({ maxClasses: 2 }, stream(12, 50, ['a', 'b'])).snapshot();
  const three = trained({ maxClasses: 2 }, stream(12, 50, ['b', 'c'])).snapshot();
  assert.throws(() => averageModels([two, three]), (e: unknown) => isTokrsError(e, ERROR_CODES.LIMIT));
  // Equal settings written in another key order are the same settings.
  assert.doesNotThrow(() => averageModels([s, { ...s, meta: { ...s.meta, optimizer: { eps: 1e-8, lr: 0.3, type: 'adagrad' } } }]));
});

test('the averaged snapshot survives the codec, restores and keeps learning, new labels included', () => {
  const options = { optimizer: adagrad({ lr: 0.3 }), l2: 0.001 };
  const first = trained(options, stream(13, 200, ['a', 'b']));
  const second = trained(options, stream(14, 200, ['b', 'a']));
  const mixed = decodeModelSnapshot(encodeModelSnapshot(averageModels([first.snapshot(), second.snapshot()])));
  const model = restored(mixed);
  const twin = restored(mixed);
  const more = stream(15, 400);
  for (const { x, y } of more) {
    model.learn(x, y);
    twin.learn(x, y);
  }
  assert.deepEqual(model.labels, [...first.labels, 'c']);
  const test = stream(16, 200);
  assert.ok(test.filter(({ x, y }) => model.predict(x) === y).length >= 0.9 * test.length);
  // Restoring is deterministic: two copies learn identically.
  for (const { x } of test.slice(0, 20)) assert.deepEqual(model.predictProba(x), twin.predictProba(x));
  // And an average of averages is still a model.
  const again = restored(averageModels([model.snapshot(), mixed]));
  assert.deepEqual(again.labels, model.labels);
});
