/**
 * PartitionedSampler: one reservoir per source partition, read as one sample of their union. Its union must
 * behave like a single uniform reservoir over all partitions' items (inclusion k/N, draws 1/N), whatever
 * the partitions' sizes, and reading it must neither change state nor depend on the order partitions came.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionedSampler } from '../../src/sample/partitioned.js';
import { createRandom } from '../../src/sample/random.js';
import type { Sampler } from '../../src/sample/sampler.js';
import { merge, ReservoirR, UniformReservoir } from '../../src/sample/uniform.js';
import { goodnessOfFit, type ChiSquareResult } from '../support/chi-square.js';

/** Fixed significance: with fixed seeds these tests are deterministic, but a wrong sampler fails them. */
const ALPHA = 0.001;
const K = 50;
/** Very different partition sizes; items are numbered 0..N-1, partition by partition. */
const SIZES = [100, 1000, 5000] as const;
const N = SIZES.reduce((a, b) => a + b, 0);
const KEYS = ['t/0', 't/1', 't/2'];
const START = SIZES.map((_, p) => SIZES.slice(0, p).reduce((a, b) => a + b, 0));
/** 100-item position bins: a bin never straddles two partitions, so a bias between partitions shows. */
const BIN = 100;
const BINS = N / BIN;

const uniformFactory =
  (seed: string) =>
  (key: string): Sampler<number> =>
    new UniformReservoir<number>(K, createRandom(`${seed}:sample:${key}`));

function filled(seed: string, order: readonly number[] = [0, 1, 2]): PartitionedSampler<number> {
  const ps = new PartitionedSampler<number>(uniformFactory(seed), createRandom(`${seed}:draws`));
  for (const p of order) for (let i = 0; i < SIZES[p]!; i++) ps.offerTo(KEYS[p]!, START[p]! + i);
  return ps;
}

/** Picks a partition with equal probability, not ∝ its count: every item of a small partition is favoured. */
function drawEqually(ps: PartitionedSampler<number>, seed: string): number {
  const keys = ps.partitions();
  const key = keys[Math.floor(createRandom(`${seed}:equal`).next() * keys.length)]!;
  return ps.part(key).drawBatch(1)[0]!;
}

function binned(counts: readonly number[]): number[] {
  const bins = new Array<number>(BINS).fill(0);
  counts.forEach((c, i) => (bins[Math.floor(i / BIN)]! += c));
  return bins;
}

/** Per-partition totals: a coarser test with more power against a bias between partitions. */
function byPartition(counts: readonly number[]): number[] {
  return SIZES.map((size, p) => counts.slice(START[p], START[p]! + size).reduce((a, b) => a + b, 0));
}

const show = (r: ChiSquareResult): string => `chi-square ${r.statistic.toFixed(1)} on ${r.dof} dof, p = ${r.pValue.toExponential(2)}`;

/**
 * Over `runs` seeded runs: how often each item is in the union's sample, and how often one draw picks it
 * (one draw per run, so the draws are independent and their bin counts multinomial).
 */
function frequencies(runs: number, seed: string, read: (ps: PartitionedSampler<number>, run: string) => { sample: number[]; draw: number }) {
  const included = new Array<number>(N).fill(0);
  const drawn = new Array<number>(N).fill(0);
  for (let r = 0; r < runs; r++) {
    const run = `${seed}:${r}`;
    const { sample, draw } = read(filled(run, [r % 3, (r + 1) % 3, (r + 2) % 3]), run);
    assert.equal(sample.length, K);
    assert.equal(new Set(sample).size, K);
    for (const x of sample) included[x]!++;
    drawn[draw]!++;
  }
  return { included, drawn };
}

const uniformBins = new Array<number>(BINS).fill(1 / BINS);
const partitionShares = SIZES.map((s) => s / N);

test('union of partitions of 100, 1000 and 5000 items: sample() includes each item with frequency k/N, drawBatch draws it with 1/N (chi-square)', () => {
  const runs = 3000;
  const { included, drawn } = frequencies(runs, 'union', (ps) => ({ sample: ps.sample(), draw: ps.drawBatch(1)[0]! }));
  // Inclusion counts add exactly K per run without replacement: binned, their variance is below the
  // multinomial one, so the Pearson test is conservative here (it can only miss a bias, never invent one).
  for (const [what, result] of [
    ['sample() by 100-item bin', goodnessOfFit(binned(included), uniformBins)],
    ['sample() by partition', goodnessOfFit(byPartition(included), partitionShares)],
    ['drawBatch by 100-item bin', goodnessOfFit(binned(drawn), uniformBins)],
    ['drawBatch by partition', goodnessOfFit(byPartition(drawn), partitionShares)],
  ] as const) {
    assert.ok(result.pValue > ALPHA, `${what}: ${show(result)}`);
  }
});

test('uniform-r (Algorithm R) partitions are merged too: one reservoir\'s capacity, each partition in proportion to its items', () => {
  const runs = 1000;
  const included = new Array<number>(N).fill(0);
  const drawn = new Array<number>(N).fill(0);
  for (let r = 0; r < runs; r++) {
    const seed = `r:${r}`;
    const ps = new PartitionedSampler<number>((key) => new ReservoirR<number>(K, createRandom(`${seed}:sample:${key}`)), createRandom(`${seed}:draws`));
    for (let p = 0; p < SIZES.length; p++) for (let i = 0; i < SIZES[p]!; i++) ps.offerTo(KEYS[p]!, START[p]! + i);
    const sample = ps.sample();
    assert.equal(sample.length, K);
    assert.equal(new Set(sample).size, K);
    for (const x of sample) included[x]!++;
    drawn[ps.drawBatch(1)[0]!]!++;
  }
  const sampled = goodnessOfFit(byPartition(included), partitionShares);
  const draws = goodnessOfFit(byPartition(drawn), partitionShares);
  assert.ok(sampled.pValue > ALPHA, `sample() by partition: ${show(sampled)}`);
  assert.ok(draws.pValue > ALPHA, `drawBatch by partition: ${show(draws)}`);
});

test('the draw test has power: choosing a partition equally instead of in proportion to its count is caught', () => {
  const runs = 3000;
  const { drawn } = frequencies(runs, 'union', (ps, run) => ({ sample: ps.sample(), draw: drawEqually(ps, run) }));
  const bins = goodnessOfFit(binned(drawn), uniformBins);
  const parts = goodnessOfFit(byPartition(drawn), partitionShares);
  assert.ok(bins.pValue < ALPHA, `equal partition choice passed the bin test: ${show(bins)}`);
  assert.ok(parts.pValue < ALPHA, `equal partition choice passed the partition test: ${show(parts)}`);
});

test('the inclusion test has power: the partitions\' samples side by side (not merged) are caught', () => {
  const runs = 1000;
  const { included } = frequencies(runs, 'union', (ps) => ({
    // Side by side, then K of them at random: each partition contributes a third, whatever its size.
    sample: ps.partitions().flatMap((k) => ps.part(k).sample()).filter((_, i) => i % 3 === 0).slice(0, K),
    draw: 0,
  }));
  const parts = goodnessOfFit(byPartition(included), partitionShares);
  assert.ok(parts.pValue < ALPHA, `side by side passed: ${show(parts)}`);
});

test('the inclusion test has power: a merge whose PRNG is seeded from the counts alone is caught', () => {
  const runs = 1000;
  // Same counts in every run, so the same split between partitions in every run (the bug this test found).
  const { included } = frequencies(runs, 'union', (ps) => ({
    sample: ps
      .partitions()
      .map((k) => ps.part(k) as UniformReservoir<number>)
      .reduce((a, b, _, all) => merge(a, b, createRandom(`merge:${all.map((s) => s.count).join(',')}`)))
      .sample(),
    draw: 0,
  }));
  const bins = goodnessOfFit(binned(included), uniformBins);
  assert.ok(bins.pValue < ALPHA, `a merge seeded from the counts passed: ${show(bins)}`);
});

function snapshotOf(ps: PartitionedSampler<number>): unknown {
  return { draws: ps.drawState(), parts: ps.partitions().map((k) => ps.part(k).snapshot()) };
}

test('sample() changes no state: the same twice, and offers and draws go on as if it had never been read', () => {
  const read = filled('read');
  const unread = filled('read');
  const first = read.sample();
  assert.deepEqual(read.sample(), first);
  assert.deepEqual(snapshotOf(read), snapshotOf(unread));
  for (let step = 0; step < 5; step++) {
    for (let i = 0; i < 300; i++) {
      const key = KEYS[i % 3]!;
      read.offerTo(key, N + step * 300 + i);
      unread.offerTo(key, N + step * 300 + i);
    }
    read.sample();
    assert.deepEqual(read.drawBatch(20), unread.drawBatch(20));
    assert.deepEqual(read.sample(), read.sample());
  }
  assert.deepEqual(read.sample(), unread.sample());
  assert.deepEqual(snapshotOf(read), snapshotOf(unread));
  assert.equal(read.count, N + 1500);
  assert.equal(read.size, 3 * K);
});

test('sample() and drawBatch do not depend on the order partitions were created or installed', () => {
  const reference = filled('order', [0, 1, 2]);
  const expected = { sample: reference.sample(), draws: reference.drawBatch(40) };
  for (const order of [
    [2, 1, 0],
    [1, 2, 0],
  ]) {
    const created = filled('order', order);
    assert.deepEqual(created.partitions(), KEYS);
    assert.deepEqual({ sample: created.sample(), draws: created.drawBatch(40) }, expected, `created in order ${order.join(',')}`);

    // Installed from snapshots (as a process taking over partitions does), in another order again.
    const source = filled('order', [0, 1, 2]);
    const installed = new PartitionedSampler<number>(uniformFactory('elsewhere'), createRandom('elsewhere:draws'));
    installed.restoreDrawState(source.drawState());
    for (const p of order) {
      const s = new UniformReservoir<number>(K, createRandom('unused'));
      s.restore(JSON.parse(JSON.stringify(source.part(KEYS[p]!).snapshot())));
      installed.install(KEYS[p]!, s);
    }
    assert.deepEqual({ sample: installed.sample(), draws: installed.drawBatch(40) }, expected, `installed in order ${order.join(',')}`);
  }
});

test('a single partition is read as itself; drop forgets a partition; nothing held gives nothing', () => {
  const ps = filled('single', [1]);
  const alone = uniformFactory('single')('t/1');
  for (let i = 0; i < SIZES[1]; i++) alone.offer(START[1]! + i);
  assert.deepEqual(ps.sample(), alone.sample());
  assert.deepEqual(ps.drawBatch(7), alone.drawBatch(7));

  const three = filled('drop');
  three.drop('t/2');
  assert.deepEqual(three.partitions(), ['t/0', 't/1']);
  assert.equal(three.has('t/2'), false);
  assert.equal(three.count, SIZES[0] + SIZES[1]);
  assert.ok(three.drawBatch(200).every((x) => x < START[2]!), 'no draw from a dropped partition');
  assert.ok(three.sample().every((x) => x < START[2]!), 'no sampled item from a dropped partition');

  const none = new PartitionedSampler<number>(uniformFactory('none'), createRandom('none'));
  assert.deepEqual(none.sample(), []);
  assert.deepEqual(none.drawBatch(3), []);
  assert.equal(none.count, 0);
});

test('drawState / restoreDrawState: restored draws repeat the partition choices', () => {
  const a = filled('draw-state');
  const b = filled('draw-state');
  b.drawBatch(13); // b's draw PRNG and partitions move on; restoring both puts b back where a is
  b.restoreDrawState(JSON.parse(JSON.stringify(a.drawState())));
  for (const k of KEYS) b.part(k).restore(a.part(k).snapshot());
  assert.deepEqual(b.drawBatch(30), a.drawBatch(30));
});
