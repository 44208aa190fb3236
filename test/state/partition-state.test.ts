/**
 * PartitionStates: each source partition's sampler and evaluator totals, as the bytes a checkpoint commits
 * and another process installs. A partition installed from its bytes must be indistinguishable from the
 * original (same sample, same totals, same continuation), bad bytes must leave the partition as it was, and
 * the totals must be the sum of the partitions' observations, whatever labels each partition saw first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { ClassificationSummary, type Observation } from '../../src/evaluate/metrics.js';
import { PARTITION_STATE_FORMAT, type PartitionStates } from '../../src/state/partition-state.js';
import { parseTopology } from '../../src/topology/load.js';
import { createPartitionStates } from '../../src/topology/pipeline.js';
import type { Example } from '../../src/topology/record.js';
import { prng } from '../support/prng.js';

const K = 50;
const topologyOf = (size: number) =>
  parseTopology(`name: parts\nseed: 5\nsource: { topics: [in], format: json }\nsample: { method: uniform, size: ${size} }\n`, 'parts.yaml');
const topology = topologyOf(K);
const fresh = (): PartitionStates => createPartitionStates(topology);

const LABELS = ['pos', 'neg', 'mixed'];

function example(i: number): Example {
  return {
    features: { indices: Int32Array.of(i % 97, 100 + (i % 13)), values: Float32Array.of(1, 0.25 * (i % 5)), dim: 1024 },
    label: LABELS[i % 3]!,
    tokenCount: 2 + (i % 4),
    timestamp: 1_700_000_000_000 + i,
  };
}

function observations(seed: number, n: number, labels: readonly string[]): Observation[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => {
    const yTrue = labels[Math.floor(r() * labels.length)]!;
    const yPred = r() < 0.6 ? yTrue : labels[Math.floor(r() * labels.length)]!;
    // Some observations without pTrue (they count in the confusion matrix, not in log-loss), weights in halves.
    return { yTrue, yPred, ...(r() < 0.9 ? { pTrue: r() } : {}), weight: 0.5 * (1 + Math.floor(r() * 3)) };
  });
}

/** Three partitions of very different sizes, each with its own labels in its own order of first appearance. */
const PARTS = [
  { key: 'in/0', items: 30, obs: observations(1, 40, ['neg', 'pos']) },
  { key: 'in/1', items: 400, obs: observations(2, 300, ['mixed', 'pos', 'neg']) },
  { key: 'in/2', items: 2500, obs: observations(3, 900, ['pos', 'other']) },
];

function populated(): PartitionStates {
  const states = fresh();
  let i = 0;
  for (const p of PARTS) {
    for (let j = 0; j < p.items; j++) states.offer(p.key, example(i++));
    for (const o of p.obs) states.observe(p.key, o);
  }
  return states;
}

/** Everything `get()` says, independent of the order labels were discovered in (floats to 12 digits). */
function normalized(summary: ClassificationSummary): unknown {
  const m = summary.get();
  const round = (x: number): number => Number(x.toPrecision(12));
  const cells: Record<string, number> = {};
  m.confusion.labels.forEach((t, i) => m.confusion.labels.forEach((p, j) => (cells[`${t}->${p}`] = m.confusion.matrix[i]![j]!)));
  return {
    ...Object.fromEntries(Object.entries(m).flatMap(([k, v]) => (typeof v === 'number' ? [[k, round(v)]] : []))),
    perClass: [...m.perClass].sort((a, b) => a.label.localeCompare(b.label)).map((c) => ({ ...c, precision: round(c.precision), recall: round(c.recall), f1: round(c.f1) })),
    cells,
  };
}

function expectSnapshotError(fn: () => unknown, what: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(isTokrsError(error), `${what}: expected a TokrsError, got ${String(error)}`);
      assert.equal(error.code, ERROR_CODES.SNAPSHOT, `${what}: ${error.message}`);
      return true;
    },
    what,
  );
}

test('ClassificationSummary.addAll equals observing the union, whatever order each summary discovered labels in', () => {
  const a = observations(10, 200, ['pos', 'neg']);
  const b = observations(11, 300, ['neg', 'mixed', 'pos']);
  const c = observations(12, 5, ['other']);
  const sum = new ClassificationSummary();
  const parts = [a, b, c].map((obs) => {
    const s = new ClassificationSummary();
    for (const o of obs) s.update(o);
    return s;
  });
  const before = parts.map((s) => s.snapshot());
  for (const s of parts) sum.addAll(s);
  assert.deepEqual(
    parts.map((s) => s.snapshot()),
    before,
    'addAll leaves its argument as it was',
  );
  const direct = new ClassificationSummary();
  for (const o of [...a, ...b, ...c]) direct.update(o);
  assert.deepEqual(normalized(sum), normalized(direct));
  // Weights are halves: every confusion cell is exact, whatever the order of the additions.
  assert.equal(sum.get().count, direct.get().count);
  assert.ok(Math.abs(sum.get().logLoss - direct.get().logLoss) < 1e-12, `log-loss ${sum.get().logLoss} vs ${direct.get().logLoss}`);
  // Adding an empty summary, or adding into one, changes nothing.
  const empty = new ClassificationSummary();
  sum.addAll(empty);
  assert.deepEqual(normalized(sum), normalized(direct));
  empty.addAll(parts[1]!);
  assert.deepEqual(normalized(empty), normalized(parts[1]!));
});

test('totals() is the sum of the partitions\' observations, computed independently', () => {
  const states = populated();
  const direct = new ClassificationSummary();
  for (const p of PARTS) for (const o of p.obs) direct.update(o);
  assert.deepEqual(normalized(states.totals()), normalized(direct));
  for (const p of PARTS) {
    const own = new ClassificationSummary();
    for (const o of p.obs) own.update(o);
    assert.deepEqual(states.summaryOf(p.key).snapshot(), own.snapshot(), `${p.key}: its own observations, exactly`);
  }
  // totals() is a fresh sum: reading it does not add into any partition.
  states.totals().update({ yTrue: 'pos', yPred: 'pos' });
  assert.deepEqual(normalized(states.totals()), normalized(direct));
});

test('encode -> install into fresh states: same sample, same totals, and identical continuation', () => {
  const original = populated();
  const taken = fresh();
  // Installed in reverse order, from Buffer slices that do not start at offset 0 (as Avro decoding gives).
  for (const p of [...PARTS].reverse()) {
    const bytes = original.encode(p.key);
    const pool = Buffer.alloc(bytes.length + 13);
    pool.set(bytes, 7);
    taken.install(p.key, pool.subarray(7, 7 + bytes.length));
  }
  taken.sampler.restoreDrawState(original.sampler.drawState());
  assert.deepEqual(taken.takeChanged(), [], 'installed state is the committed state: nothing to write');
  assert.deepEqual(taken.held().sort(), PARTS.map((p) => p.key));
  assert.equal(taken.sampler.count, original.sampler.count);
  assert.deepEqual(taken.sampler.sample(), original.sampler.sample());
  assert.deepEqual(normalized(taken.totals()), normalized(original.totals()));
  for (const p of PARTS) assert.deepEqual(taken.encode(p.key), original.encode(p.key), `${p.key}: the same bytes again`);

  let i = 10_000;
  for (let round = 0; round < 4; round++) {
    for (let j = 0; j < 200; j++) {
      const key = PARTS[j % 3]!.key;
      const e = example(i++);
      original.offer(key, e);
      taken.offer(key, e);
    }
    const o = { yTrue: 'neg', yPred: 'pos', pTrue: 0.3 };
    original.observe(PARTS[round % 3]!.key, o);
    taken.observe(PARTS[round % 3]!.key, o);
    assert.deepEqual(taken.sampler.drawBatch(25), original.sampler.drawBatch(25), `round ${round}: the same replay batch`);
    assert.deepEqual(taken.sampler.sample(), original.sampler.sample(), `round ${round}: the same sample`);
  }
  assert.deepEqual(taken.takeChanged().sort(), original.takeChanged().sort());
  for (const p of PARTS) assert.deepEqual(taken.encode(p.key), original.encode(p.key), `${p.key}: the same state after continuing`);
});

test('a partition without a sampler (only observed, nothing offered) round-trips, and replaces a sampled one', () => {
  const original = fresh();
  const obs = observations(20, 50, ['a', 'b']);
  for (const o of obs) original.observe('in/7', o);
  assert.equal(original.sampler.has('in/7'), false);
  const bytes = original.encode('in/7');

  const taken = fresh();
  taken.install('in/7', bytes);
  assert.deepEqual(taken.held(), ['in/7']);
  assert.equal(taken.sampler.has('in/7'), false);
  assert.deepEqual(taken.summaryOf('in/7').snapshot(), original.summaryOf('in/7').snapshot());
  assert.deepEqual(taken.encode('in/7'), bytes);

  // Installed over a partition that had a sampler: the committed state is the whole state, sampler included.
  const held = populated();
  held.install('in/1', bytes);
  assert.equal(held.sampler.has('in/1'), false);
  assert.equal(held.sampler.count, PARTS[0]!.items + PARTS[2]!.items);
  assert.deepEqual(held.summaryOf('in/1').snapshot(), original.summaryOf('in/7').snapshot());
});

test('takeChanged returns exactly the partitions touched since the last call', () => {
  const states = populated();
  assert.deepEqual(states.takeChanged().sort(), PARTS.map((p) => p.key));
  assert.deepEqual(states.takeChanged(), [], 'taken: nothing changed since');

  states.offer('in/2', example(1));
  states.observe('in/0', { yTrue: 'pos', yPred: 'pos' });
  states.observe('in/9', { yTrue: 'pos', yPred: 'neg' });
  assert.deepEqual(states.takeChanged().sort(), ['in/0', 'in/2', 'in/9']);

  // Reading changes nothing.
  states.sampler.sample();
  states.totals();
  states.held();
  for (const p of PARTS) states.encode(p.key);
  assert.deepEqual(states.takeChanged(), []);

  // A dropped partition is not written; an installed one is already committed.
  states.offer('in/1', example(2));
  states.offer('in/2', example(3));
  states.drop('in/1');
  const other = populated();
  states.install('in/2', other.encode('in/2'));
  assert.deepEqual(states.takeChanged(), []);
});

test('takeChanged includes the partitions a replay draw advanced: their committed PRNG state must not lag', () => {
  const states = populated();
  states.takeChanged();
  const prngOf = (key: string): unknown => states.sampler.part(key).snapshot().random;
  const before = PARTS.map((p) => prngOf(p.key));
  states.sampler.drawBatch(6);
  const advanced = PARTS.filter((p, i) => JSON.stringify(prngOf(p.key)) !== JSON.stringify(before[i])).map((p) => p.key);
  assert.ok(advanced.length > 0);
  assert.deepEqual(states.takeChanged().sort(), advanced, 'the partitions whose sampler state a draw changed');

  // As checkpoints do: write only the changed partitions. A process taking them over goes on exactly as
  // their owner does; with a lagging PRNG state it would draw other examples.
  const owner = populated();
  const store = new Map<string, Uint8Array>();
  const checkpoint = (): void => {
    for (const key of owner.takeChanged()) store.set(key, owner.encode(key));
  };
  checkpoint();
  owner.sampler.drawBatch(6);
  checkpoint();
  const successor = fresh();
  for (const [key, bytes] of store) successor.install(key, bytes);
  successor.sampler.restoreDrawState(owner.sampler.drawState());
  assert.deepEqual(successor.sampler.drawBatch(40), owner.sampler.drawBatch(40));
  assert.deepEqual(successor.sampler.sample(), owner.sampler.sample());
});

test('drop forgets a partition\'s sampler and totals', () => {
  const states = populated();
  states.drop('in/1');
  assert.deepEqual(states.held().sort(), ['in/0', 'in/2']);
  assert.equal(states.sampler.has('in/1'), false);
  assert.equal(states.sampler.count, PARTS[0]!.items + PARTS[2]!.items);
  const direct = new ClassificationSummary();
  for (const o of [...PARTS[0]!.obs, ...PARTS[2]!.obs]) direct.update(o);
  assert.deepEqual(normalized(states.totals()), normalized(direct));
  assert.ok(states.sampler.drawBatch(100).every((e) => e.timestamp - 1_700_000_000_000 < PARTS[0]!.items || e.timestamp - 1_700_000_000_000 >= PARTS[0]!.items + PARTS[1]!.items));
  assert.equal(states.summaryOf('in/1').get().count, 0, 'a partition taken again starts empty');
});

test('install of bad bytes throws TokrsError SNAPSHOT and leaves the partition as it was', () => {
  const states = populated();
  const key = 'in/1';
  const good = states.encode(key);
  const other = populated().encode('in/2');
  const jsonLength = new DataView(good.buffer, good.byteOffset).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(good.subarray(4, 4 + jsonLength))) as Record<string, unknown>;
  const sampler = good.subarray(4 + jsonLength);
  const withHeader = (h: unknown, tail: Uint8Array = sampler): Uint8Array => {
    const json = new TextEncoder().encode(typeof h === 'string' ? h : JSON.stringify(h));
    const out = new Uint8Array(4 + json.length + tail.length);
    new DataView(out.buffer).setUint32(0, json.length);
    out.set(json, 4);
    out.set(tail, 4 + json.length);
    return out;
  };
  const corrupt = good.slice();
  corrupt[4 + jsonLength] ^= 0xff; // the sampler's magic
  const r = prng(99);
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['3 bytes', Uint8Array.of(0, 0, 1)],
    ['garbage', Uint8Array.from({ length: 300 }, () => Math.floor(r() * 256))],
    ['truncated by one byte', good.subarray(0, good.length - 1)],
    ['truncated to half', good.subarray(0, good.length >> 1)],
    ['truncated in the header', good.subarray(0, 4 + (jsonLength >> 1))],
    ['one byte too many', Uint8Array.from([...good, 0])],
    ['header not JSON', withHeader('{"format":1,'.padEnd(40, '~'))],
    ['wrong format', withHeader({ ...header, format: PARTITION_STATE_FORMAT + 1 })],
    ['no format', withHeader({ ...header, format: undefined })],
    ['sampler length mismatch (longer)', withHeader({ ...header, samplerBytes: sampler.length + 8 })],
    ['sampler length mismatch (shorter)', withHeader({ ...header, samplerBytes: sampler.length - 8 })],
    ['sampler length not a number', withHeader({ ...header, samplerBytes: String(sampler.length) })],
    ['header null', withHeader('null')],
    ['header a number', withHeader('1')],
    ['header an array', withHeader('[1]')],
    ['totals missing', withHeader({ ...header, scored: undefined })],
    ['totals malformed', withHeader({ ...header, scored: { confusion: { labels: ['a', 'a'] }, logLoss: { sum: 0, weight: 0 } } })],
    ['sampler bytes corrupt', corrupt],
    ['sampler of another capacity', createPartitionStatesWithSize(60)],
    ['another partition\'s header with this sampler length mismatch', withHeader(header, other.subarray(4))],
  ];
  const before = { bytes: states.encode(key), sample: states.sampler.sample(), totals: normalized(states.totals()), held: states.held() };
  for (const [what, bytes] of cases) {
    expectSnapshotError(() => states.install(key, bytes), what);
    assert.deepEqual(
      { bytes: states.encode(key), sample: states.sampler.sample(), totals: normalized(states.totals()), held: states.held() },
      before,
      `${what}: partition ${key} unchanged`,
    );
  }
  // A partition not held before stays not held after a failed install.
  expectSnapshotError(() => states.install('in/5', good.subarray(0, 10)), 'truncated, new partition');
  assert.equal(states.held().includes('in/5'), false);
  assert.equal(states.sampler.has('in/5'), false);
  states.install(key, good);
  assert.deepEqual(states.encode(key), good);
});

function createPartitionStatesWithSize(size: number): Uint8Array {
  const states = createPartitionStates(topologyOf(size));
  for (let i = 0; i < 100; i++) states.offer('in/1', example(i));
  return states.encode('in/1');
}
