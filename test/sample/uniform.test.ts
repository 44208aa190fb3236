import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { createRandom, type Random } from '../../src/sample/random.js';
import type { Sampler } from '../../src/sample/sampler.js';
import { merge, ReservoirR, UniformReservoir } from '../../src/sample/uniform.js';
import { goodnessOfFit, inclusionChiSquare } from '../support/chi-square.js';

/** Fixed significance: with fixed seeds these tests are deterministic, but a wrong sampler fails them. */
const ALPHA = 0.001;

function inclusionCounts(make: (random: Random) => Sampler<number>, n: number, runs: number, seed: string): number[] {
  const random = createRandom(seed);
  const counts = new Array<number>(n).fill(0);
  for (let r = 0; r < runs; r++) {
    const s = make(random);
    for (let i = 0; i < n; i++) s.offer(i);
    for (const x of s.sample()) counts[x]++;
  }
  return counts;
}

/** A classic off-by-one: item n enters with probability k/(n+1) instead of k/n, favouring early items. */
class OffByOneReservoir implements Sampler<number> {
  readonly kind = 'biased';
  items: number[] = [];
  count = 0;
  constructor(
    readonly capacity: number,
    private readonly random: Random,
  ) {}
  get size(): number {
    return this.items.length;
  }
  offer(item: number): void {
    const n = ++this.count;
    if (n <= this.capacity) this.items.push(item);
    else {
      const j = Math.floor(this.random.next() * (n + 1));
      if (j < this.capacity) this.items[j] = item;
    }
  }
  sample(): number[] {
    return this.items.slice();
  }
  drawBatch(): number[] {
    return [];
  }
  snapshot(): never {
    throw new Error('not needed');
  }
  restore(): void {}
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isTokrsError(error), `expected a TokrsError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

test('random: a seed fixes the sequence, snapshot/restore continues it, floats are in [0, 1)', () => {
  const a = createRandom(42);
  const b = createRandom(42);
  const c = createRandom('42');
  const xs = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.next()));
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => c.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const state = JSON.parse(JSON.stringify(a.snapshot()));
  const after = Array.from({ length: 10 }, () => a.nextUint32());
  const d = createRandom(0);
  d.restore(state);
  assert.deepEqual(Array.from({ length: 10 }, () => d.nextUint32()), after);
  expectError(() => d.restore({ algorithm: 'mt19937', state: [1, 2, 3, 4] }), ERROR_CODES.SNAPSHOT, /xoshiro128/);
  expectError(() => createRandom(1.5), ERROR_CODES.CONFIG, /sample\.seed must be an integer or a string, got 1\.5/);
});

test('random: 32-bit outputs are uniform over 64 buckets (chi-square)', () => {
  const random = createRandom('buckets');
  const counts = new Array<number>(64).fill(0);
  for (let i = 0; i < 64_000; i++) counts[random.nextUint32() >>> 26]++;
  assert.ok(goodnessOfFit(counts, new Array(64).fill(1 / 64)).pValue > ALPHA);
});

for (const [name, make] of [
  ['Algorithm L', (random: Random) => new UniformReservoir<number>(5, random)],
  ['Algorithm R', (random: Random) => new ReservoirR<number>(5, random)],
] as const) {
  test(`${name}: each position's inclusion frequency matches k/n (chi-square, n = 60, k = 5)`, () => {
    const counts = inclusionCounts(make, 60, 12_000, `incl-${name}`);
    const result = inclusionChiSquare(counts, 12_000, 5);
    assert.ok(result.pValue > ALPHA, `chi-square ${result.statistic.toFixed(1)} on ${result.dof} dof, p = ${result.pValue}`);
  });
}

test('Algorithm L: every 3-subset of 7 items is equally likely (not just the marginals)', () => {
  const random = createRandom('subsets');
  const index = new Map<string, number>();
  const counts: number[] = [];
  for (let r = 0; r < 14_000; r++) {
    const s = new UniformReservoir<number>(3, random);
    for (let i = 0; i < 7; i++) s.offer(i);
    const key = s.sample().sort((x, y) => x - y).join(',');
    if (!index.has(key)) index.set(key, index.size);
    const at = index.get(key) ?? 0;
    counts[at] = (counts[at] ?? 0) + 1;
  }
  assert.equal(index.size, 35);
  const result = goodnessOfFit(counts, new Array(35).fill(1 / 35));
  assert.ok(result.pValue > ALPHA, `p = ${result.pValue}`);
});

test('Algorithm L: long streams (n = 5000, k = 20) where most items are skipped stay uniform', () => {
  const n = 5000;
  const runs = 1500;
  const counts = inclusionCounts((random) => new UniformReservoir<number>(20, random), n, runs, 'long');
  // 5000 positions with 6 expected each is too thin for chi-square: test 100 blocks of 50 positions.
  const blocks = new Array<number>(100).fill(0);
  counts.forEach((c, i) => (blocks[Math.floor(i / 50)] += c));
  const result = goodnessOfFit(blocks, new Array(100).fill(1 / 100));
  assert.ok(result.pValue > ALPHA, `p = ${result.pValue}`);
});

test('the inclusion test has power: an off-by-one reservoir is caught', () => {
  const counts = inclusionCounts((random) => new OffByOneReservoir(5, random), 60, 12_000, 'incl-Algorithm R');
  const result = inclusionChiSquare(counts, 12_000, 5);
  assert.ok(result.pValue < ALPHA, `the biased sampler passed: p = ${result.pValue}`);
});

test('snapshot -> JSON -> restore -> continue gives the same sample as an uninterrupted run', () => {
  for (const make of [
    (random: Random) => new UniformReservoir<number>(50, random),
    (random: Random) => new ReservoirR<number>(50, random),
  ]) {
    for (const cut of [10, 50, 777]) {
      const whole = make(createRandom(9));
      for (let i = 0; i < 5000; i++) whole.offer(i);
      const first = make(createRandom(9));
      for (let i = 0; i < cut; i++) first.offer(i);
      const second = make(createRandom('other'));
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      for (let i = cut; i < 5000; i++) second.offer(i);
      assert.deepEqual(second.sample(), whole.sample());
      assert.equal(second.count, 5000);
      assert.deepEqual(second.drawBatch(8), whole.drawBatch(8));
    }
  }
});

test('bad capacity and foreign snapshots are typed errors with clear messages', () => {
  const random = createRandom(1);
  for (const bad of [0, -3, 1.5, NaN]) {
    expectError(() => new UniformReservoir(bad, random), ERROR_CODES.SAMPLE, /sample\.size must be a positive integer, got/);
    expectError(() => new ReservoirR(bad, random), ERROR_CODES.SAMPLE, /positive integer/);
  }
  expectError(() => new UniformReservoir(-3, random), ERROR_CODES.SAMPLE, /^sample\.size must be a positive integer, got -3$/);
  const l = new UniformReservoir<number>(4, random);
  const r = new ReservoirR<number>(4, random);
  expectError(() => l.restore(r.snapshot()), ERROR_CODES.SNAPSHOT, /uniform sampler from a "uniform-r" snapshot/);
  expectError(() => l.restore({ ...l.snapshot(), version: 99 }), ERROR_CODES.SNAPSHOT, /version 99/);
  expectError(() => new UniformReservoir<number>(5, random).restore(l.snapshot()), ERROR_CODES.SNAPSHOT, /capacity 4/);
  assert.deepEqual(new UniformReservoir<number>(3, random).drawBatch(4), []);
});

test('merge: two reservoirs over disjoint streams are uniform over the union, and keep sampling exactly', () => {
  const random = createRandom('merge');
  const na = 25;
  const nb = 55;
  const extra = 40;
  const k = 6;
  const runs = 8000;
  const merged = new Array<number>(na + nb).fill(0);
  const continued = new Array<number>(na + nb + extra).fill(0);
  for (let r = 0; r < runs; r++) {
    const a = new UniformReservoir<number>(k, random);
    const b = new UniformReservoir<number>(k, random);
    for (let i = 0; i < na; i++) a.offer(i);
    for (let i = na; i < na + nb; i++) b.offer(i);
    const m = merge(a, b, random);
    assert.equal(m.count, na + nb);
    for (const x of m.sample()) merged[x]++;
    for (let i = na + nb; i < na + nb + extra; i++) m.offer(i);
    for (const x of m.sample()) continued[x]++;
  }
  const p1 = inclusionChiSquare(merged, runs, k).pValue;
  const p2 = inclusionChiSquare(continued, runs, k).pValue;
  assert.ok(p1 > ALPHA, `merged: p = ${p1}`);
  assert.ok(p2 > ALPHA, `merged then continued: p = ${p2}`);
});

test('merge: short streams, determinism, and capacity mismatch', () => {
  const a = new UniformReservoir<string>(5, createRandom(1));
  const b = new UniformReservoir<string>(5, createRandom(2));
  a.offer('a1');
  a.offer('a2');
  b.offer('b1');
  const m = merge(a, b, createRandom(3));
  assert.deepEqual(m.sample().sort(), ['a1', 'a2', 'b1']);
  for (let i = 0; i < 100; i++) b.offer(`b${i + 2}`);
  assert.deepEqual(merge(a, b, createRandom(4)).sample(), merge(a, b, createRandom(4)).sample());
  expectError(
    () => merge(a, new UniformReservoir<string>(6, createRandom(1)), createRandom(1)),
    ERROR_CODES.SAMPLE,
    /different capacity \(5 and 6\)/,
  );
});

test('Algorithm L offerBatch skips unread items yet equals offering one at a time', () => {
  const items = Array.from({ length: 20_000 }, (_, i) => i);
  const one = new UniformReservoir<number>(30, createRandom(5));
  items.forEach((x) => one.offer(x));
  const batched = new UniformReservoir<number>(30, createRandom(5));
  for (let at = 0; at < items.length; at += 777) batched.offerBatch(items.slice(at, at + 777));
  assert.deepEqual(batched.sample(), one.sample());
  assert.equal(batched.count, one.count);
  assert.deepEqual(batched.snapshot(), one.snapshot());
});

test('Algorithm L offerBatch equals offering one at a time when a batch has more replacements than its write buffer', () => {
  // k = 3,000 over 60,000 items in one batch: about k·ln(20) ≈ 9,000 replacements, several buffers of 1,024,
  // and many slots written more than once, where the later write must win.
  const items = Array.from({ length: 60_000 }, (_, i) => i);
  const one = new UniformReservoir<number>(3_000, createRandom(8));
  items.forEach((x) => one.offer(x));
  const batched = new UniformReservoir<number>(3_000, createRandom(8));
  batched.offerBatch(items);
  assert.deepEqual(batched.snapshot(), one.snapshot());
  batched.offerBatch([]);
  batched.offerBatch(items.slice(0, 5));
  for (let i = 0; i < 5; i++) one.offer(i);
  assert.deepEqual(batched.snapshot(), one.snapshot());
});

test('offerBatch stays exact when reading an item runs code that offers a batch to another reservoir', () => {
  // Each reservoir has its own write buffer: with one shared buffer, the inner batch overwrote the outer
  // one's decided replacements before they were written.
  const inner = new UniformReservoir<number>(5, createRandom(2));
  const data = Array.from({ length: 10_000 }, (_, i) => i);
  let reenter = true;
  const proxied = new Proxy(data, {
    get(target, key, receiver) {
      if (reenter && typeof key === 'string' && /^\d+$/.test(key) && Number(key) > 10) {
        reenter = false;
        inner.offerBatch(Array.from({ length: 100_000 }, (_, i) => -i));
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const one = new UniformReservoir<number>(10, createRandom(1));
  for (const x of data) one.offer(x);
  const batched = new UniformReservoir<number>(10, createRandom(1));
  batched.offerBatch(proxied);
  assert.equal(reenter, false);
  assert.deepEqual(batched.snapshot(), one.snapshot());
});

test('a merge of reservoirs that are still filling snapshots and restores (its W was NaN); a fractional skip index is refused', () => {
  const a = new UniformReservoir<number>(10, createRandom(1));
  a.offer(1);
  const b = new UniformReservoir<number>(10, createRandom(2));
  b.offer(2);
  const merged = merge(a, b, createRandom(3));
  const restored = new UniformReservoir<number>(10, createRandom(9));
  restored.restore(merged.snapshot());
  for (let i = 3; i < 500; i++) {
    merged.offer(i);
    restored.offer(i);
  }
  assert.deepEqual(restored.snapshot(), merged.snapshot());

  const full = new UniformReservoir<number>(3, createRandom(4));
  for (let i = 0; i < 50; i++) full.offer(i);
  const snap = full.snapshot();
  const bad = { ...snap, extra: { ...snap.extra, next: (snap.extra.next as number) + 0.5 } };
  expectError(() => new UniformReservoir<number>(3, createRandom(4)).restore(bad), ERROR_CODES.SNAPSHOT, /invalid skip state/);
});
