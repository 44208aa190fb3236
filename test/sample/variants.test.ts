import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { createRandom, type Random } from '../../src/sample/random.js';
import type { Sampler } from '../../src/sample/sampler.js';
import { UniformReservoir } from '../../src/sample/uniform.js';
import { WeightedReservoir } from '../../src/sample/weighted.js';
import { StratifiedReservoir } from '../../src/sample/stratified.js';
import { SlidingWindowReservoir, TimeBiasedReservoir } from '../../src/sample/recent.js';
import { BernoulliSampler, SystematicSampler } from '../../src/sample/simple.js';
import { goodnessOfFit, inclusionChiSquare } from '../support/chi-square.js';

const ALPHA = 0.001;

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isTokrsError(error), `expected a TokrsError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

/**
 * Exact distribution of the k-subset drawn by successive sampling proportional to weight, which is what
 * A-Res/A-ExpJ produce (Efraimidis & Spirakis 2006, Theorem 1): sum over every order of picking the subset.
 */
function exactWeightedSubsets(weights: number[], k: number): Map<string, number> {
  const result = new Map<string, number>();
  const total = weights.reduce((s, w) => s + w, 0);
  const walk = (picked: number[], p: number, left: number): void => {
    if (picked.length === k) {
      const key = picked.slice().sort((a, b) => a - b).join(',');
      result.set(key, (result.get(key) ?? 0) + p);
      return;
    }
    weights.forEach((w, i) => {
      if (!picked.includes(i)) walk([...picked, i], (p * w) / left, left - w);
    });
  };
  walk([], 1, total);
  return result;
}

function subsetFit(make: (random: Random) => Sampler<number>, weights: number[], k: number, runs: number, seed: string) {
  const exact = exactWeightedSubsets(weights, k);
  const keys = [...exact.keys()];
  const observed = new Map(keys.map((key) => [key, 0]));
  const inclusion = new Array<number>(weights.length).fill(0);
  const random = createRandom(seed);
  for (let r = 0; r < runs; r++) {
    const s = make(random);
    for (let i = 0; i < weights.length; i++) s.offer(i);
    const sample = s.sample().sort((a, b) => a - b);
    for (const x of sample) inclusion[x]++;
    const key = sample.join(',');
    observed.set(key, (observed.get(key) ?? 0) + 1);
  }
  const fit = goodnessOfFit(
    keys.map((key) => observed.get(key) ?? 0),
    keys.map((key) => exact.get(key) ?? 0),
  );
  const exactInclusion = weights.map((_, i) =>
    keys.reduce((s, key) => s + (key.split(',').map(Number).includes(i) ? (exact.get(key) ?? 0) : 0), 0),
  );
  return { fit, inclusion, exactInclusion };
}

test('weighted (A-ExpJ): the sampled subsets follow the exact successive-sampling law (weights 1..5, k = 2)', () => {
  const weights = [1, 2, 3, 4, 5];
  const runs = 20_000;
  const { fit, inclusion, exactInclusion } = subsetFit(
    (random) => new WeightedReservoir<number>(2, (i) => weights[i], random),
    weights,
    2,
    runs,
    'weighted',
  );
  assert.ok(fit.pValue > ALPHA, `subset chi-square ${fit.statistic.toFixed(1)} on ${fit.dof} dof, p = ${fit.pValue}`);
  // Each item's inclusion frequency against its exact probability (here 0.151, 0.291, 0.418, 0.527, 0.613).
  inclusion.forEach((observed, i) => {
    const p = exactInclusion[i];
    const z = (observed - runs * p) / Math.sqrt(runs * p * (1 - p));
    assert.ok(Math.abs(z) < 4, `item ${i} (weight ${weights[i]}): observed ${observed / runs}, exact ${p.toFixed(4)}, z = ${z}`);
  });
  assert.ok(Math.abs(exactInclusion.reduce((s, p) => s + p, 0) - 2) < 1e-12);
});

test('weighted: with k = 1 over a long stream, item i is picked with probability w_i / Σw (long skips)', () => {
  const weights = Array.from({ length: 40 }, (_, i) => 1 + (i % 7) * 3);
  const total = weights.reduce((s, w) => s + w, 0);
  const random = createRandom('k1');
  const counts = new Array<number>(weights.length).fill(0);
  for (let r = 0; r < 12_000; r++) {
    const s = new WeightedReservoir<number>(1, (i) => weights[i], random);
    for (let i = 0; i < weights.length; i++) s.offer(i);
    counts[s.sample()[0]]++;
  }
  const fit = goodnessOfFit(counts, weights.map((w) => w / total));
  assert.ok(fit.pValue > ALPHA, `p = ${fit.pValue}`);
});

test('the weighted test has power: a uniform reservoir fails it', () => {
  const weights = [1, 2, 3, 4, 5];
  const { fit } = subsetFit((random) => new UniformReservoir<number>(2, random), weights, 2, 20_000, 'weighted');
  assert.ok(fit.pValue < ALPHA, `uniform sampler passed the weighted test: p = ${fit.pValue}`);
});

test('weighted: bad weights are typed errors naming the item', () => {
  const s = new WeightedReservoir<number>(3, (x) => x, createRandom(1));
  s.offer(1);
  // Beyond [1e-100, 1e100] the keys log(u)/w become subnormal or infinite and the skip overflows.
  for (const bad of [0, -1, NaN, Infinity, 1e-320, 1e-101, 1e101, 1e308, Number.MAX_VALUE]) {
    expectError(() => s.offer(bad), ERROR_CODES.SAMPLE, /sample weight must be a number in \[1e-100, 1e100\], got .* for item 2/);
  }
  assert.equal(s.count, 1);
});

test('weighted: equal weights at either bound still give a uniform sample (keys and skips stay normal doubles)', () => {
  for (const w of [1e-100, 1e100]) {
    const random = createRandom(`bound:${w}`);
    const runs = 6000;
    const counts = new Array<number>(4).fill(0);
    for (let r = 0; r < runs; r++) {
      const s = new WeightedReservoir<number>(2, () => w, random);
      for (let i = 0; i < 4; i++) s.offer(i);
      for (const x of s.sample()) counts[x]++;
    }
    const result = inclusionChiSquare(counts, runs, 2);
    assert.ok(result.pValue > ALPHA, `weight ${w}: inclusion ${counts.join(', ')}, p = ${result.pValue}`);
  }
});

test('stratified per-label: every label keeps min(count, capacity) items of its own', () => {
  const random = createRandom('strata');
  const labels = ['a', 'b', 'c'];
  const s = new StratifiedReservoir<{ label: string; i: number }>({ mode: 'per-label', capacity: 10, label: (x) => x.label }, random);
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 5000; i++) {
    const u = random.next();
    const label = u < 0.9 ? labels[0] : u < 0.998 ? labels[1] : labels[2];
    counts[label]++;
    s.offer({ label, i });
  }
  for (const { label, count, capacity, size } of s.labels()) {
    assert.equal(count, counts[label]);
    assert.equal(capacity, 10);
    assert.equal(size, Math.min(count, 10));
    assert.ok(s.sampleOf(label).every((x) => x.label === label));
  }
  assert.equal(s.size, s.sample().length);
  assert.equal(s.count, 5000);
});

test('stratified shared: the total is split equally as labels arrive, and each stratum stays uniform', () => {
  const random = createRandom('shared');
  const runs = 6000;
  const countsA = new Array<number>(20).fill(0);
  for (let r = 0; r < runs; r++) {
    const s = new StratifiedReservoir<number>({ mode: 'shared', capacity: 7, label: (i) => (i >= 40 ? 'c' : i % 2 ? 'b' : 'a') }, random);
    for (let i = 0; i < 60; i++) {
      s.offer(i);
      assert.ok(s.size <= 7);
    }
    // 7 among 3 labels: ceil(7/3), ceil(6/3), ceil(5/3) = 3, 2, 2; 'a' shrank from 4 to 3 when 'c' arrived.
    assert.deepEqual(
      s.labels().map((l) => [l.label, l.capacity, l.size]),
      [
        ['a', 3, 3],
        ['b', 2, 2],
        ['c', 2, 2],
      ],
    );
    for (const x of s.sampleOf('a')) countsA[x / 2]++;
  }
  const result = inclusionChiSquare(countsA, runs, 3);
  assert.ok(result.pValue > ALPHA, `label a after a shrink: p = ${result.pValue}`);
  expectError(
    () => {
      const s = new StratifiedReservoir<string>({ mode: 'shared', capacity: 2, label: (x) => x }, random);
      for (const x of ['a', 'b', 'c']) s.offer(x);
    },
    ERROR_CODES.SAMPLE,
    /sample\.size 2 is shared equally among labels, and label "c" is the 3th/,
  );
});

test('recent (Aggarwal): an item survives age a with probability (1 - 1/k)^a once the reservoir is full', () => {
  const k = 10;
  const runs = 4000;
  const n = 400;
  const random = createRandom('recent');
  const counts = new Array<number>(n).fill(0);
  for (let r = 0; r < runs; r++) {
    const s = new TimeBiasedReservoir<number>({ capacity: k }, random);
    for (let i = 0; i < n; i++) s.offer(i);
    for (const x of s.sample()) counts[x]++;
  }
  for (let age = 0; age < 40; age++) {
    const p = Math.pow(1 - 1 / k, age);
    const observed = counts[n - 1 - age];
    const z = (observed - runs * p) / Math.sqrt(runs * p * (1 - p) + 1e-9);
    assert.ok(Math.abs(z) < 4.5, `age ${age}: observed ${observed / runs}, expected ${p.toFixed(4)}`);
  }
  expectError(() => new TimeBiasedReservoir({ capacity: 10, bias: 0.5 }, random), ERROR_CODES.SAMPLE, /bias must be in/);
});

test('window: a uniform sample of the last W items, through many compactions', () => {
  const random = createRandom('window');
  const runs = 4000;
  const counts = new Array<number>(300).fill(0);
  for (let r = 0; r < runs; r++) {
    const s = new SlidingWindowReservoir<number>({ capacity: 5, windowItems: 50 }, random);
    for (let i = 0; i < 300; i++) s.offer(i);
    assert.equal(s.size, 5);
    for (const x of s.sample()) counts[x]++;
  }
  assert.ok(counts.slice(0, 250).every((c) => c === 0), 'an expired item was sampled');
  const result = inclusionChiSquare(counts.slice(250), runs, 5);
  assert.ok(result.pValue > ALPHA, `p = ${result.pValue}`);
});

test('window: a refused item (no time) is not counted and takes no place among the last W items', () => {
  const times: Record<number, number> = { 0: 0, 1: 1, 2: NaN, 3: NaN, 4: 4 };
  const s = new SlidingWindowReservoir<number>({ capacity: 3, windowItems: 3, windowMs: 1000, time: (i) => times[i]! }, createRandom('refused'));
  for (let i = 0; i < 5; i++) {
    if (Number.isNaN(times[i])) expectError(() => s.offer(i), ERROR_CODES.SAMPLE, /sample time must be a number of ms/);
    else s.offer(i);
  }
  assert.equal(s.count, 3);
  assert.deepEqual(s.sample().sort((a, b) => a - b), [0, 1, 4]);
});

test('window: the last T ms by the item time accessor (never the wall clock)', () => {
  const random = createRandom('window-ms');
  const runs = 4000;
  const counts = new Array<number>(200).fill(0);
  for (let r = 0; r < runs; r++) {
    const s = new SlidingWindowReservoir<number>({ capacity: 4, windowMs: 20, time: (i) => Math.floor(i / 2) }, random);
    for (let i = 0; i < 200; i++) s.offer(i);
    for (const x of s.sample()) counts[x]++;
  }
  // Latest time is 99: the window is times 80..99, items 160..199.
  assert.ok(counts.slice(0, 160).every((c) => c === 0));
  const result = inclusionChiSquare(counts.slice(160), runs, 4);
  assert.ok(result.pValue > ALPHA, `p = ${result.pValue}`);
  const few = new SlidingWindowReservoir<number>({ capacity: 4, windowMs: 20, time: (i) => i * 100 }, random);
  for (let i = 0; i < 10; i++) few.offer(i);
  assert.deepEqual(few.sample(), [9]);
  assert.equal(few.size, 1);
});

test('bernoulli: the number selected is Binomial(n, p); systematic: every k-th from a uniform start', () => {
  const b = new BernoulliSampler<number>({ p: 0.01 }, createRandom('bern'));
  for (let i = 0; i < 200_000; i++) b.offer(i);
  const z = (b.size - 2000) / Math.sqrt(200_000 * 0.01 * 0.99);
  assert.ok(Math.abs(z) < 4, `selected ${b.size}`);
  const random = createRandom('sys');
  const starts = new Array<number>(10).fill(0);
  for (let r = 0; r < 5000; r++) {
    const s = new SystematicSampler<number>({ every: 10 }, random);
    for (let i = 0; i < 95; i++) s.offer(i);
    const sample = s.sample();
    sample.forEach((x, j) => assert.equal(x, sample[0] + 10 * j));
    starts[sample[0]]++;
  }
  assert.ok(goodnessOfFit(starts, new Array(10).fill(0.1)).pValue > ALPHA);
  const limited = new BernoulliSampler<number>({ p: 1, limit: 3 }, random);
  for (let i = 0; i < 10; i++) limited.offer(i);
  assert.deepEqual(limited.sample(), [7, 8, 9]);
  expectError(() => new BernoulliSampler({ p: 1.5 }, random), ERROR_CODES.SAMPLE, /sample\.bernoulli\.p must be a number in \(0, 1\], got 1\.5/);
  expectError(() => new SystematicSampler({ every: 0 }, random), ERROR_CODES.SAMPLE, /sample\.systematic\.every must be a positive integer, got 0/);
});
