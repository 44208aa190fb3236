import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import type { ModelSnapshot, OnlineClassifier } from '../../src/learn/classifier.js';
import { adagrad, ftrl, sgd } from '../../src/learn/optimizers.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { TfjsClassifier, ensureTfjsBackend } from '../../src/learn/tfjs-classifier.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../../src/learn/snapshot-codec.js';
import { prng } from '../support/prng.js';


function vector(dim: number, entries: Map<number, number>): SparseVector {
  const idx = [...entries.keys()].sort((a, b) => a - b);
  return { indices: Int32Array.from(idx), values: Float32Array.from(idx.map((i) => entries.get(i)!)), dim };
}

/** A learnable stream: each class has its own few "words", plus shared noise words. */
function stream(dim: number, n: number, labels: string[], seed: number): { x: SparseVector; y: string }[] {
  const r = prng(seed);
  const out: { x: SparseVector; y: string }[] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * labels.length);
    const m = new Map<number, number>();
    for (let k = 0; k < 3; k++) m.set((c * 7 + Math.floor(r() * 5)) % dim, 1);
    for (let k = 0; k < 3; k++) m.set(Math.floor(r() * dim), r() < 0.5 ? -0.5 : 0.5);
    out.push({ x: vector(dim, m), y: labels[c] });
  }
  return out;
}

interface Subject {
  name: string;
  dim: number;
  make: (dim: number, hashing?: Record<string, number>) => OnlineClassifier;
  /** Examples the subject gets per test (tfjs is slow: keep it small). */
  n: number;
}

const DIM = 64;
const subjects: Subject[] = [
  { name: 'SoftmaxSgd sgd', dim: DIM, n: 400, make: (dim, hashing) => new SoftmaxSgd({ dim, hashing, optimizer: sgd({ lr: 0.5 }) }) },
  {
    name: 'SoftmaxSgd sgd invscaling + L1/L2 + balanced',
    dim: DIM,
    n: 400,
    make: (dim, hashing) => new SoftmaxSgd({ dim, hashing, optimizer: sgd({ lr: 0.5, schedule: 'invscaling', power: 0.3 }), l1: 1e-4, l2: 1e-3, classWeights: 'balanced' }),
  },
  { name: 'SoftmaxSgd adagrad + L1/L2', dim: DIM, n: 400, make: (dim, hashing) => new SoftmaxSgd({ dim, hashing, optimizer: adagrad({ lr: 0.3 }), l1: 1e-4, l2: 1e-3 }) },
  { name: 'SoftmaxSgd ftrl + L1/L2', dim: DIM, n: 400, make: (dim, hashing) => new SoftmaxSgd({ dim, hashing, optimizer: ftrl({ alpha: 0.5 }), l1: 1e-3, l2: 1e-3, classWeights: { b: 2 } }) },
  { name: 'TfjsClassifier', dim: 32, n: 60, make: (dim, hashing) => new TfjsClassifier({ dim, hashing, hidden: [8], lr: 0.5, seed: 7 }) },
];

before(async () => {
  await ensureTfjsBackend('cpu');
});

const probe = (s: Subject) => stream(s.dim, 20, ['a', 'b', 'c'], 999).map((e) => e.x);
const predictions = (m: OnlineClassifier, xs: SparseVector[]) => xs.map((x) => Array.from(m.predictProba(x)));
const sameSnapshot = (a: ModelSnapshot, b: ModelSnapshot) => {
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.meta, b.meta);
  assert.deepEqual(Object.keys(a.arrays).sort(), Object.keys(b.arrays).sort());
  for (const k of Object.keys(a.arrays)) assert.deepEqual(a.arrays[k], b.arrays[k], `array ${k}`);
};

for (const s of subjects) {
  describe(`conformance: ${s.name}`, () => {
    test('learns a separable stream; probabilities are aligned with labels and sum to 1', () => {
      const m = s.make(s.dim);
      const data = stream(s.dim, s.n * 2, ['a', 'b', 'c'], 1);
      let correct = 0;
      data.forEach(({ x, y }, i) => {
        if (i >= s.n && m.predict(x) === y) correct++;
        m.learn(x, y);
      });
      assert.ok(correct / s.n > 0.6, `accuracy ${correct / s.n}`);
      for (const x of probe(s)) {
        const p = m.predictProba(x);
        assert.equal(p.length, m.labels.length);
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
      assert.equal(m.updates, s.n * 2);
      m.dispose();
    });

    test('seeded determinism: two models fed the same stream agree exactly', () => {
      const a = s.make(s.dim);
      const b = s.make(s.dim);
      for (const { x, y } of stream(s.dim, s.n, ['a', 'b', 'c'], 2)) {
        a.learn(x, y);
        b.learn(x, y);
      }
      assert.deepEqual(predictions(a, probe(s)), predictions(b, probe(s)));
      sameSnapshot(a.snapshot(), b.snapshot());
      a.dispose();
      b.dispose();
    });

    test('snapshot → restore (through bytes) gives identical predictions and identical further learning', () => {
      const data = stream(s.dim, s.n, ['a', 'b', 'c'], 3);
      const a = s.make(s.dim, { bits: 6 });
      data.slice(0, s.n / 2).forEach(({ x, y }) => a.learn(x, y));
      const snap = a.snapshot();
      const bytes = encodeModelSnapshot(snap);
      const b = s.make(s.dim, { bits: 6 });
      b.restore(decodeModelSnapshot(bytes));
      assert.deepEqual(b.labels, a.labels);
      assert.equal(b.updates, a.updates);
      assert.deepEqual(predictions(b, probe(s)), predictions(a, probe(s)));
      // Predicting must not change the model (snapshot taken after predictions equals the one before).
      sameSnapshot(a.snapshot(), snap);
      data.slice(s.n / 2).forEach(({ x, y }, i) => {
        if (i % 10 === 0) {
          a.learnMany(data.slice(0, 5).map((e) => ({ features: e.x, label: e.y })));
          b.learnMany(data.slice(0, 5).map((e) => ({ features: e.x, label: e.y })));
        }
        a.learn(x, y, 1.5);
        b.learn(x, y, 1.5);
      });
      assert.deepEqual(predictions(b, probe(s)), predictions(a, probe(s)));
      sameSnapshot(a.snapshot(), b.snapshot());
      // The snapshot is a copy: later learning did not change it.
      sameSnapshot(decodeModelSnapshot(bytes), snap);
      a.dispose();
      b.dispose();
    });

    test('new labels mid-stream become new classes and are learned', () => {
      const m = s.make(s.dim);
      assert.equal(m.predict(probe(s)[0]), undefined);
      assert.deepEqual(Array.from(m.predictProba(probe(s)[0])), []);
      m.learn(probe(s)[0], 'a');
      assert.deepEqual(Array.from(m.predictProba(probe(s)[1])), [1]);
      stream(s.dim, s.n / 2, ['a', 'b'], 4).forEach(({ x, y }) => m.learn(x, y));
      assert.deepEqual(m.labels, ['a', 'b']);
      const later = stream(s.dim, s.n * 2, ['a', 'b', 'c', 'd'], 5);
      let correctNew = 0;
      let seenNew = 0;
      later.forEach(({ x, y }, i) => {
        if (i > later.length / 2 && (y === 'c' || y === 'd')) {
          seenNew++;
          if (m.predict(x) === y) correctNew++;
        }
        m.learn(x, y);
      });
      assert.deepEqual([...m.labels].sort(), ['a', 'b', 'c', 'd']);
      assert.ok(correctNew / seenNew > 0.4, `new-class accuracy ${correctNew / seenNew}`);
      m.dispose();
    });

    test('empty feature vectors: predicted (from the bias) and learned from', () => {
      const m = s.make(s.dim);
      const empty = vector(s.dim, new Map());
      m.learn(empty, 'a');
      m.learn(empty, 'b');
      for (let i = 0; i < 10; i++) m.learn(empty, 'b');
      const p = m.predictProba(empty);
      assert.equal(p.length, 2);
      assert.ok(p.every((v) => Number.isFinite(v)));
      m.learnMany([]);
      m.dispose();
    });

    test('bad input: typed errors, and the model is left as it was', () => {
      const m = s.make(s.dim, { bits: 6 });
      stream(s.dim, 20, ['a', 'b'], 6).forEach(({ x, y }) => m.learn(x, y));
      const before = m.snapshot();
      const good = probe(s)[0];
      const bad: [string, () => void, string][] = [
        ['wrong hash size', () => m.learn({ ...good, dim: s.dim * 2 }, 'a'), 'TOKRS_ERR_FEATURES'],
        ['NaN value', () => m.learn(vector(s.dim, new Map([[1, Number.NaN]])), 'a'), 'TOKRS_ERR_FEATURES'],
        ['Infinity value', () => m.predictProba(vector(s.dim, new Map([[1, Number.POSITIVE_INFINITY]]))), 'TOKRS_ERR_FEATURES'],
        ['index out of range', () => m.learn({ indices: Int32Array.of(s.dim), values: Float32Array.of(1), dim: s.dim }, 'a'), 'TOKRS_ERR_FEATURES'],
        ['unsorted indices', () => m.learn({ indices: Int32Array.of(3, 1), values: Float32Array.of(1, 1), dim: s.dim }, 'a'), 'TOKRS_ERR_FEATURES'],
        ['number label', () => m.learn(good, 3 as unknown as string), 'TOKRS_ERR_LEARN'],
        ['null label', () => m.learn(good, null as unknown as string), 'TOKRS_ERR_LEARN'],
        ['negative weight', () => m.learn(good, 'a', -1), 'TOKRS_ERR_LEARN'],
        [
          'one bad item in a batch',
          () => m.learnMany([{ features: good, label: 'a' }, { features: vector(s.dim, new Map([[2, Number.NaN]])), label: 'b' }]),
          'TOKRS_ERR_FEATURES',
        ],
        ['snapshot of another format version', () => m.restore({ ...before, version: before.version + 1 }), 'TOKRS_ERR_SNAPSHOT'],
        ['snapshot of another hash size', () => m.restore({ ...before, dim: s.dim * 2 }), 'TOKRS_ERR_SNAPSHOT'],
        ['snapshot of other hash settings', () => m.restore({ ...before, hashing: { bits: 7 } }), 'TOKRS_ERR_SNAPSHOT'],
        ['snapshot of another kind', () => m.restore({ ...before, kind: 'naive-bayes' }), 'TOKRS_ERR_SNAPSHOT'],
        ['snapshot with a truncated array', () => m.restore({ ...before, arrays: { ...before.arrays, [Object.keys(before.arrays)[0]]: new Float32Array(3) } }), 'TOKRS_ERR_SNAPSHOT'],
        ['snapshot with non-string labels', () => m.restore({ ...before, labels: [1, 2] as unknown as string[] }), 'TOKRS_ERR_SNAPSHOT'],
        ['corrupt snapshot bytes', () => m.restore(decodeModelSnapshot(encodeModelSnapshot(before).subarray(0, 40))), 'TOKRS_ERR_SNAPSHOT'],
      ];
      for (const [what, run, code] of bad) {
        assert.throws(run, (e: unknown) => (e as { code?: string }).code === code, what);
      }
      sameSnapshot(m.snapshot(), before);
      m.dispose();
    });
  });
}
