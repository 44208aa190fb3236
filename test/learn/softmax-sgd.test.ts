import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { toPrediction, type ModelSnapshot, type SnapshotArray } from '../../src/learn/classifier.js';
import { adagrad, decayOver, ftrl, sgd, sgdRate, type SgdOptimizer } from '../../src/learn/optimizers.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../../src/learn/snapshot-codec.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { TfjsClassifier, ensureTfjsBackend, tfjsSnapshotHandler } from '../../src/learn/tfjs-classifier.js';
import { createClassifier } from '../../src/learn/factory.js';
import { parseModelConfig } from '../../src/learn/config.js';
import { prng } from '../support/prng.js';


function randomVector(r: () => number, dim: number): SparseVector {
  const set = new Set<number>();
  for (let k = 0; k < 3; k++) set.add(Math.floor(r() * dim));
  const idx = [...set].sort((a, b) => a - b);
  return { indices: Int32Array.from(idx), values: Float32Array.from(idx.map(() => r() * 2 - 1)), dim };
}

const truncate = (w: number, by: number) => (w > by ? w - by : w < -by ? w + by : 0);

/**
 * Eager reference for binary logistic regression: every weight is regularised at every step. The lazy
 * model must give the same probabilities when only L2 or only L1 is on (those penalties compose exactly
 * over skipped steps; mixed L1+L2 is the documented approximation).
 */
for (const [name, opt, l1, l2] of [
  ['constant, L2', sgd({ lr: 0.3 }), 0, 0.01],
  ['invscaling, L2', sgd({ lr: 0.3, schedule: 'invscaling', power: 0.5 }), 0, 0.01],
  ['constant, L1', sgd({ lr: 0.3 }), 0.002, 0],
  ['invscaling, L1', sgd({ lr: 0.3, schedule: 'invscaling' }), 0.002, 0],
] as [string, SgdOptimizer, number, number][]) {
  test(`lazy regularisation equals the eager per-step reference (${name})`, () => {
    const dim = 16;
    const r = prng(11);
    const model = new SoftmaxSgd({ dim, optimizer: opt, l1, l2 });
    const w = new Float64Array(dim);
    let b = 0;
    for (let t = 0; t < 300; t++) {
      const x = randomVector(r, dim);
      const y = t === 1 ? 'pos' : r() < 0.5 ? 'neg' : 'pos';
      const eta = sgdRate(opt, t);
      if (t > 0) {
        // Class 'neg' came first, so it is the pivot and 'pos' has the weight row.
        let s = b;
        for (let k = 0; k < x.indices.length; k++) s += w[x.indices[k]] * x.values[k];
        const p = 1 / (1 + Math.exp(-s));
        if (model.labels.length === 2) assert.ok(Math.abs(model.predictProba(x)[1] - p) < 1e-4, `step ${t}: ${model.predictProba(x)[1]} vs ${p}`);
        const g = p - (y === 'pos' ? 1 : 0);
        for (let k = 0; k < x.indices.length; k++) w[x.indices[k]] -= eta * g * x.values[k];
        b -= eta * g;
      }
      for (let j = 0; j < dim; j++) w[j] = truncate(w[j] * (1 - eta * l2), eta * l1);
      model.learn(x, t === 0 ? 'neg' : y);
    }
  });
}

test('L1 makes weights exactly zero (sparsity), FTRL too', () => {
  const r = prng(3);
  // FTRL's lambda1 thresholds |z|, a sum of gradients, hence the larger value (McMahan et al. use ~1).
  for (const [opt, l1] of [[sgd({ lr: 0.2 }), 0.05], [{ type: 'ftrl', alpha: 0.2, beta: 1 } as const, 20]] as const) {
    const m = new SoftmaxSgd({ dim: 256, optimizer: opt, l1 });
    for (let i = 0; i < 2000; i++) m.learn(randomVector(r, 256), r() < 0.5 ? 'a' : 'b');
    const zeroProbe = m.predictProba({ indices: Int32Array.from([0, 1, 2, 3]), values: Float32Array.of(1, 1, 1, 1), dim: 256 });
    const bias = m.predictProba({ indices: new Int32Array(0), values: new Float32Array(0), dim: 256 });
    assert.ok(Math.abs(zeroProbe[0] - bias[0]) < 1e-9, `${opt.type}: noise features should be zeroed by L1`);
  }
});

test('config: defaults give SoftmaxSgd with constant SGD; bad values are CONFIG errors with the path', () => {
  const c = parseModelConfig({});
  assert.equal(c.type, 'softmax-sgd');
  assert.equal(c.optimizer.type, 'sgd');
  assert.ok(createClassifier({}, { dim: 1024 }) instanceof SoftmaxSgd);
  assert.throws(() => parseModelConfig({ optimizer: { type: 'sgd', lr: -1 } }), (e: Error & { code?: string }) => e.code === 'TOKRS_ERR_CONFIG' && e.message.includes('model.optimizer.lr'));
  assert.throws(() => createClassifier({ type: 'tfjs' }, { dim: 2 ** 20 }), { code: 'TOKRS_ERR_CONFIG' });
  assert.throws(() => new SoftmaxSgd({ dim: 0 }), { code: 'TOKRS_ERR_CONFIG' });
});

test('too many labels is a LIMIT error, not a heap explosion', () => {
  const m = new SoftmaxSgd({ dim: 8, maxClasses: 2 });
  const x = { indices: Int32Array.of(1), values: Float32Array.of(1), dim: 8 };
  m.learn(x, 'a');
  m.learn(x, 'b');
  assert.throws(() => m.learn(x, 'c'), { code: 'TOKRS_ERR_LIMIT' });
  assert.deepEqual(m.labels, ['a', 'b']);
});

test('tfjs snapshot loads with tf.loadLayersModel from the custom IO handler and predicts the same', async () => {
  await ensureTfjsBackend('cpu');
  const m = new TfjsClassifier({ dim: 16, hidden: [4], seed: 1 });
  const r = prng(5);
  for (let i = 0; i < 30; i++) m.learn(randomVector(r, 16), ['x', 'y', 'z'][i % 3]);
  const loaded = await tf.loadLayersModel(tfjsSnapshotHandler(m.snapshot()));
  const x = randomVector(r, 16);
  const dense = new Float32Array(16);
  x.indices.forEach((j, k) => (dense[j] = x.values[k]));
  const p = Array.from((loaded.predict(tf.tensor2d(dense, [1, 16])) as tf.Tensor).dataSync());
  const q = Array.from(m.predictProba(x));
  p.forEach((v, k) => assert.ok(Math.abs(v - q[k]) < 1e-6));
  loaded.dispose();
  m.dispose();
});

/** A version-2 (sparse) snapshot written out the way version 1 stored it: every feature's row, dense. */
function asDenseV1(s: ModelSnapshot, dim: number): ModelSnapshot {
  const rows = s.arrays.rows as Int32Array;
  const cap = (s.meta as { cap: number }).cap;
  // An empty array stays empty (SGD has no accumulators, a one-label model no weights), but the lazy clocks
  // are per feature whatever the rows.
  const dense = <T extends Float32Array | Float64Array>(a: T, stride: number, length: number, used = a.length > 0): T => {
    const out = new (a.constructor as new (n: number) => T)(used ? length * stride : 0);
    rows.forEach((j, i) => {
      for (let r = 0; r < stride && a.length > 0; r++) out[j * stride + r] = a[i * stride + r]!;
    });
    return out;
  };
  const arrays: Record<string, SnapshotArray> = { ...s.arrays };
  delete arrays.rows;
  arrays.w = dense(s.arrays.w as Float32Array, cap, dim);
  arrays.acc = dense(s.arrays.acc as Float32Array, cap, dim);
  // Version 1 has both clocks as doubles, whatever the optimizer (format 3 may store AdaGrad's as Int32 and
  // leaves out the SGD-only one).
  const clocks = asV2(s).arrays;
  if (clocks.lastA !== undefined) arrays.lastA = dense(clocks.lastA as Float64Array, 1, dim, true);
  if (clocks.lastB !== undefined) arrays.lastB = dense(clocks.lastB as Float64Array, 1, dim, true);
  return { ...s, version: 1, arrays };
}

/** A version-3 snapshot as version 2 stored it: both lazy clocks, as doubles. */
function asV2(s: ModelSnapshot): ModelSnapshot {
  const arrays: Record<string, SnapshotArray> = { ...s.arrays };
  if (arrays.lastA !== undefined) {
    arrays.lastA = Float64Array.from(arrays.lastA);
    arrays.lastB ??= new Float64Array(arrays.lastA.length);
  }
  return { ...s, version: 2, arrays };
}

for (const [name, make, labels] of [
  ['adagrad + L2 (lazy), 2 classes', (dim: number) => new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-6 }), ['pos', 'neg']],
  ['sgd + L1/L2 (lazy), 3 classes', (dim: number) => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3 }), l1: 1e-4, l2: 1e-3 }), ['a', 'b', 'c']],
  ['sgd + L2 (lazy), 2 classes', (dim: number) => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3 }), l2: 1e-3 }), ['pos', 'neg']],
  ['ftrl, 3 classes', (dim: number) => new SoftmaxSgd({ dim, optimizer: ftrl({ alpha: 0.5 }), l1: 1e-3 }), ['a', 'b', 'c']],
] as const) {
  test(`snapshots are sparse (format 3), and dense format-1 and format-2 snapshots still restore identically (${name})`, () => {
    const dim = 2 ** 16;
    const r = prng(11);
    const data = Array.from({ length: 300 }, () => ({ x: randomVector(r, dim), y: labels[Math.floor(r() * labels.length)]! }));
    const a = make(dim);
    data.slice(0, 200).forEach(({ x, y }) => a.learn(x, y));
    const snap = a.snapshot();
    assert.equal(snap.version, 3);
    // Format 3 keeps the lazy clocks only as far as they carry information.
    if (name.startsWith('adagrad')) {
      assert.ok(snap.arrays.lastA instanceof Int32Array, 'AdaGrad step clocks as Int32');
      assert.equal(snap.arrays.lastB, undefined);
    }
    if (name.startsWith('sgd')) assert.ok(snap.arrays.lastA instanceof Float64Array);
    if (name.startsWith('sgd + L1')) assert.ok(snap.arrays.lastB instanceof Float64Array, 'SGD with L1 keeps its second clock');
    if (name.startsWith('sgd + L2')) assert.equal(snap.arrays.lastB, undefined, 'without L1 nothing moves the second clock');
    const rows = snap.arrays.rows as Int32Array;
    const touched = new Set(data.slice(0, 200).flatMap(({ x }) => [...x.indices]));
    assert.ok(rows.length > 0 && rows.length <= touched.size, `${rows.length} rows for ${touched.size} features learned from`);
    for (const j of rows) assert.ok(touched.has(j), `row ${j} was never learned from`);
    const bytes = Object.values(snap.arrays).reduce((n, x) => n + x.byteLength, 0);
    assert.ok(bytes < dim, `a sparse snapshot of ${touched.size} features is ${bytes} bytes`);

    const probes = data.slice(200, 230).map((e) => e.x);
    const predictions = (m: SoftmaxSgd) => probes.map((x) => Array.from(m.predictProba(x)));
    for (const restored of [snap, decodeModelSnapshot(encodeModelSnapshot(snap)), asDenseV1(snap, dim), asV2(snap)]) {
      const b = make(dim);
      b.restore(restored);
      assert.deepEqual(predictions(b), predictions(a));
      // The same bits: its own snapshot equals the original one, and further learning agrees exactly.
      assert.deepEqual(b.snapshot(), snap);
      const c = make(dim);
      c.restore(snap);
      data.slice(200).forEach(({ x, y }) => {
        b.learn(x, y);
        c.learn(x, y);
      });
      assert.deepEqual(predictions(b), predictions(c));
    }
    // Bad rows are refused before anything changes.
    const b = make(dim);
    for (const bad of [Int32Array.from([5, 3]), Int32Array.from([dim]), Int32Array.from([-1])]) {
      assert.throws(() => b.restore({ ...snap, arrays: { ...snap.arrays, rows: bad } }), (e: unknown) => (e as { code?: string }).code === 'TOKRS_ERR_SNAPSHOT');
    }
    assert.equal(b.labels.length, 0);
  });
}

test('predicting before learning (prequential) leaves exactly the model that learning alone gives (lazy catch-up reuse)', () => {
  const dim = 256;
  for (const make of [
    () => new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l1: 1e-4, l2: 1e-3 }),
    () => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3, schedule: 'invscaling', power: 0.5 }), l1: 1e-4, l2: 1e-3 }),
  ]) {
    const r = prng(5);
    const a = make();
    const b = make();
    for (let i = 0; i < 400; i++) {
      const x = randomVector(r, dim);
      // Labels arrive one by one (the class count changes between a prediction and its learn).
      const y = ['a', 'b', 'c', 'd'][Math.min(3, Math.floor(i / 50))]!;
      a.predictProba(x);
      if (i % 7 === 0) a.predictProba(randomVector(r, dim)); // another vector in between: nothing to reuse
      a.learn(x, y);
      if (i % 5 === 0) a.learnMany([{ features: x, label: y }]);
      b.learn(x, y);
      if (i % 5 === 0) b.learnMany([{ features: x, label: y }]);
    }
    assert.deepEqual(a.snapshot(), b.snapshot());
  }
});

test('decayOver (1 - x)^n agrees with exp(n · log1p(-x)) to a few ulps, on both sides of its series cut-offs', () => {
  // An error of one ulp in log1p(-x) becomes |y| ulps after exp(y), y = n · log1p(-x), in both computations:
  // the tolerance grows with |y|.
  let series = 0;
  for (let e = -14; e <= -0.001; e += 0.05) {
    const x = 10 ** e;
    for (const n of [1, 2, 3, 7, 10, 100, 1_000, 12_345, 100_000, 1e6, 1e7]) {
      const reference = Math.exp(n * Math.log1p(-x));
      const got = decayOver(x, n);
      if (x < 2 ** -13 && n * x < 2 ** -10) series++;
      const y = Math.abs(n * Math.log1p(-x));
      assert.ok(Math.abs(got - reference) <= (4 + 4 * y) * 2 ** -52 * reference + Number.MIN_VALUE, `x ${x}, n ${n}: ${got} vs ${reference}`);
    }
  }
  assert.ok(series > 300, `the series paths ran ${series} times`);
  assert.equal(decayOver(0, 1000), 1);
  assert.equal(decayOver(1, 3), 0);
  assert.equal(decayOver(1.5, 3), 0);
});

test('a snapshot lists exactly the features with state, through label growth, learnMany, catch-up and restores', () => {
  // The live model lists the features its learning marked; a model restored from the dense (version 1)
  // form checks every feature: the two must list the same rows with the same bits.
  const dim = 2 ** 12 + 7; // not a multiple of 32: the last word of the marks is partial
  for (const make of [
    () => new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-3 }),
    () => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3 }), l1: 1e-2, l2: 1e-3 }),
    () => new SoftmaxSgd({ dim, optimizer: ftrl({ alpha: 0.5 }), l1: 1e-2 }),
    () => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3 }) }),
  ]) {
    const r = prng(23);
    const a = make();
    for (let i = 0; i < 300; i++) {
      const x = randomVector(r, dim);
      // Labels arrive over time: the weight rows widen twice (the first label learns no weights at all).
      const y = ['a', 'b', 'c', 'd'][Math.min(3, Math.floor(i / 80))]!;
      if (i % 3 === 0) a.predictProba(x);
      if (i % 11 === 0) a.learnMany([{ features: x, label: y }, { features: randomVector(r, dim), label: 'a' }]);
      else a.learn(x, y);
      if (i === 150) a.catchUp();
      if (i % 60 === 59) {
        const snap = a.snapshot();
        const full = make();
        full.restore(asDenseV1(snap, dim));
        assert.deepEqual(full.snapshot(), snap);
        // A restore from the sparse form marks only its rows, and goes on listing the same ones.
        const sparse = make();
        sparse.restore(snap);
        const next = randomVector(r, dim);
        for (const m of [a, full, sparse]) m.learn(next, y);
        assert.deepEqual(sparse.snapshot(), full.snapshot());
        assert.deepEqual(a.snapshot(), full.snapshot());
      }
    }
  }
});

test('format 3 keeps AdaGrad step clocks of 2^31 and beyond as doubles, and restores them exactly', () => {
  const dim = 64;
  const make = () => new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-3 });
  const r = prng(4);
  const a = make();
  for (let i = 0; i < 50; i++) a.learn(randomVector(r, dim), i % 2 === 0 ? 'x' : 'y');
  const snap = a.snapshot();
  assert.ok(snap.arrays.lastA instanceof Int32Array);
  // A long-running model: its clocks beyond Int32 (as a version-2 snapshot would carry them).
  const big = Float64Array.from(snap.arrays.lastA, (v) => v + 2 ** 31);
  const old = { ...snap, version: 2, meta: { ...snap.meta, cumA: (snap.meta as { cumA: number }).cumA + 2 ** 31 }, arrays: { ...snap.arrays, lastA: big, lastB: new Float64Array(big.length) } };
  const b = make();
  b.restore(old);
  const again = b.snapshot();
  assert.ok(again.arrays.lastA instanceof Float64Array, 'clocks past 2^31 stay doubles');
  assert.deepEqual(Array.from(again.arrays.lastA), Array.from(big));
  const c = make();
  c.restore(again);
  const x = randomVector(r, dim);
  assert.deepEqual(Array.from(c.predictProba(x)), Array.from(b.predictProba(x)));
  assert.deepEqual(Array.from(b.predictProba(x)), Array.from(a.predictProba(x)), 'only the clocks moved, not what they owe');
});

test('format 3 refuses clocks that cannot be right: a left-out lastB whose total moved, negative or non-finite step clocks', () => {
  const dim = 64;
  const r = prng(6);
  const refused = (make: () => SoftmaxSgd, snap: ModelSnapshot, message: RegExp) => {
    const m = make();
    assert.throws(() => m.restore(snap), (e: unknown) => (e as { code?: string }).code === 'TOKRS_ERR_SNAPSHOT' && message.test((e as Error).message));
    assert.equal(m.labels.length, 0, 'nothing changed');
  };
  const sgdL2 = () => new SoftmaxSgd({ dim, optimizer: sgd({ lr: 0.3 }), l2: 1e-3 });
  const a = sgdL2();
  for (let i = 0; i < 30; i++) a.learn(randomVector(r, dim), i % 2 === 0 ? 'x' : 'y');
  const s = a.snapshot();
  assert.equal(s.arrays.lastB, undefined);
  refused(sgdL2, { ...s, meta: { ...s.meta, cumB: 5 } }, /meta.cumB is 5 but lastB is left out/);
  const ada = () => new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-3 });
  const b = ada();
  for (let i = 0; i < 30; i++) b.learn(randomVector(r, dim), i % 2 === 0 ? 'x' : 'y');
  const t = b.snapshot();
  const negative = Int32Array.from(t.arrays.lastA as Int32Array);
  negative[0] = -5;
  refused(ada, { ...t, arrays: { ...t.arrays, lastA: negative } }, /lastA\[\d+\] is -5, a step count/);
  const nan = Float64Array.from(t.arrays.lastA as Int32Array);
  nan[1] = NaN;
  refused(ada, { ...t, arrays: { ...t.arrays, lastA: nan } }, /lastA\[\d+\] is NaN/);
  // And the untouched snapshots restore.
  sgdL2().restore(s);
  ada().restore(t);
});

test('labels are data: "__proto__" is a key of the prediction, "toString" is not weighted by Object.prototype', () => {
  const x: SparseVector = { indices: Int32Array.of(1, 5), values: Float32Array.of(0.6, 0.8), dim: 16 };
  const y: SparseVector = { indices: Int32Array.of(2, 7), values: Float32Array.of(0.8, 0.6), dim: 16 };
  const model = new SoftmaxSgd({ dim: 16, classWeights: { other: 2 } });
  for (let i = 0; i < 20; i++) {
    model.learn(x, '__proto__');
    model.learn(y, 'toString');
    model.learn(x, 'other');
  }
  const p = toPrediction(model.labels, model.predictProba(x));
  assert.deepEqual(Object.keys(p.probabilities).sort(), ['__proto__', 'other', 'toString']);
  const sum = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `probabilities sum to ${sum}`);
  // Object.prototype.toString as a class weight made every weight NaN.
  assert.ok(Array.from(model.predictProba(y)).every(Number.isFinite));
  assert.equal(model.predict(y), 'toString');
});
