import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { decodeSamplerSnapshot, encodeSamplerSnapshot, EXAMPLE_CODEC_VERSION } from '../../src/state/example-codec.js';
import { createRandom, type Random } from '../../src/sample/random.js';
import { SlidingWindowReservoir, TimeBiasedReservoir } from '../../src/sample/recent.js';
import type { Sampler, SamplerSnapshot } from '../../src/sample/sampler.js';
import { StratifiedReservoir } from '../../src/sample/stratified.js';
import { UniformReservoir } from '../../src/sample/uniform.js';
import { WeightedReservoir } from '../../src/sample/weighted.js';
import { isTokrsError } from '../../src/errors.js';
import type { Example } from '../../src/topology/record.js';

const DIM = 1 << 20;

/** Examples shaped like hashed reviews: ~`features` sorted distinct buckets of 2^20, float32 tf values. */
function examples(n: number, seed: number, features = 60, labels = ['好评', '差评', 'neutral']): Example[] {
  const r = createRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const set = new Set<number>();
    const m = Math.max(1, features - 10 + Math.floor(r.next() * 21));
    while (set.size < m) set.add(r.nextUint32() & (DIM - 1));
    const idx = Int32Array.from([...set].sort((a, b) => a - b));
    return {
      features: { indices: idx, values: Float32Array.from(idx, () => r.next() * 3), dim: DIM },
      label: labels[Math.floor(r.next() * r.next() * labels.length)],
      tokenCount: m + Math.floor(r.next() * 5),
      timestamp: 1_700_000_000_000 + i * 37 + Math.floor(r.next() * 10),
    };
  });
}

const samplers: [string, (random: Random) => Sampler<Example>][] = [
  ['uniform', (random) => new UniformReservoir<Example>(100, random)],
  ['stratified shared', (random) => new StratifiedReservoir<Example>({ mode: 'shared', capacity: 90, label: (e) => e.label }, random)],
  ['stratified per-label', (random) => new StratifiedReservoir<Example>({ mode: 'per-label', capacity: 40, label: (e) => e.label }, random)],
  ['weighted', (random) => new WeightedReservoir<Example>(100, (e) => e.tokenCount, random)],
  ['time-biased', (random) => new TimeBiasedReservoir<Example>({ capacity: 80 }, random)],
  ['sliding window', (random) => new SlidingWindowReservoir<Example>({ capacity: 50, windowMs: 20_000, time: (e) => e.timestamp }, random)],
];

const isSnapshotError = (e: unknown): boolean => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT');

for (const [name, make] of samplers) {
  test(`${name}: encode/decode gives the same snapshot, and a sampler restored from the bytes continues identically`, () => {
    const stream = examples(1500, 3, 20);
    const original = make(createRandom(42));
    stream.slice(0, 1000).forEach((e) => original.offer(e));
    const snapshot = original.snapshot();
    const bytes = encodeSamplerSnapshot(snapshot);
    const decoded = decodeSamplerSnapshot(bytes);
    assert.deepEqual(decoded, snapshot);
    assert.ok(decoded.items.length > 0);

    const restored = make(createRandom(9999)); // another seed: all state must come from the bytes
    restored.restore(decoded);
    assert.deepEqual(restored.drawBatch(7), original.drawBatch(7));
    for (const e of stream.slice(1000)) {
      original.offer(e);
      restored.offer(e);
    }
    assert.deepEqual(restored.sample(), original.sample());
    assert.deepEqual(restored.drawBatch(11), original.drawBatch(11));
    assert.deepEqual(encodeSamplerSnapshot(restored.snapshot()), encodeSamplerSnapshot(original.snapshot()), 'same bytes after continuing');
  });
}

test('the continuation check can fail: a sampler restored from another point differs', () => {
  const stream = examples(600, 4, 10);
  const a = new UniformReservoir<Example>(50, createRandom(1));
  stream.slice(0, 300).forEach((e) => a.offer(e));
  const early = encodeSamplerSnapshot(a.snapshot());
  a.offer(stream[300]);
  const b = new UniformReservoir<Example>(50, createRandom(1));
  b.restore(decodeSamplerSnapshot(early));
  for (const e of stream.slice(301)) {
    a.offer(e);
    b.offer(e);
  }
  assert.notDeepEqual(b.sample(), a.sample());
});

test('empty samples, several hash sizes, unaligned input and the version byte', () => {
  const empty = new UniformReservoir<Example>(10, createRandom(1)).snapshot();
  assert.deepEqual(decodeSamplerSnapshot(encodeSamplerSnapshot(empty)), empty);
  const mixed = [...examples(5, 1, 4), ...examples(5, 2, 4).map((e) => ({ ...e, features: { ...e.features, dim: DIM * 2 } }))];
  const s: SamplerSnapshot<Example> = { ...empty, count: 10, items: mixed };
  const bytes = encodeSamplerSnapshot(s);
  assert.equal(bytes[4], EXAMPLE_CODEC_VERSION);
  assert.deepEqual(decodeSamplerSnapshot(bytes), s);
  // A Buffer slice at an odd offset: typed arrays cannot view it in place.
  const padded = Buffer.alloc(bytes.length + 3);
  padded.set(bytes, 3);
  assert.deepEqual(decodeSamplerSnapshot(padded.subarray(3)), s);
  const other = bytes.slice();
  other[4] = EXAMPLE_CODEC_VERSION + 1;
  assert.throws(() => decodeSamplerSnapshot(other), (e: unknown) => isSnapshotError(e) && /format version/.test((e as Error).message));
});

test('garbage, truncated and corrupted bytes are SNAPSHOT errors, never crashes', () => {
  const sampler = new WeightedReservoir<Example>(12, (e) => e.tokenCount, createRandom(5));
  examples(40, 6, 5).forEach((e) => sampler.offer(e));
  const bytes = encodeSamplerSnapshot(sampler.snapshot());
  const outcome = (b: Uint8Array): 'ok' | 'snapshot-error' => {
    try {
      decodeSamplerSnapshot(b);
      return 'ok';
    } catch (e) {
      assert.ok(isSnapshotError(e), `unexpected ${String(e)}`);
      return 'snapshot-error';
    }
  };
  for (let len = 0; len < bytes.length; len++) assert.equal(outcome(bytes.subarray(0, len)), 'snapshot-error', `truncated to ${len}`);
  assert.equal(outcome(Uint8Array.of(...bytes, 0)), 'snapshot-error', 'a byte too many');
  const r = createRandom(77);
  for (let i = 0; i < 300; i++) outcome(Uint8Array.from({ length: r.nextUint32() % 200 }, () => r.nextUint32() & 255));
  // Flip every byte of the preamble and header in turn, and random bytes of the data part.
  const headerEnd = 12 + new DataView(bytes.buffer).getUint32(8, true);
  let rejected = 0;
  for (let i = 0; i < bytes.length; i += i < headerEnd ? 1 : 1 + (r.nextUint32() % 7)) {
    const bad = bytes.slice();
    bad[i] ^= 1 << r.nextUint32() % 8;
    if (outcome(bad) === 'snapshot-error') rejected++;
  }
  assert.ok(rejected > headerEnd / 2, `most header corruptions are caught (${rejected})`);
  // A feature index pushed out of the hash space, or out of order, is caught by the SparseVector checks.
  const s = sampler.snapshot();
  const broken = { ...s, items: s.items.map((e, i) => (i === 3 ? { ...e, features: { ...e.features, indices: e.features.indices.map((x, j) => (j === 0 ? DIM + 5 : x)) } } : e)) };
  assert.throws(() => decodeSamplerSnapshot(encodeSamplerSnapshot(broken)), (e: unknown) => isSnapshotError(e) && /example 3/.test((e as Error).message));
  const nan = { ...s, items: s.items.map((e, i) => (i === 1 ? { ...e, features: { ...e.features, values: e.features.values.map(() => Number.NaN) } } : e)) };
  assert.throws(() => decodeSamplerSnapshot(encodeSamplerSnapshot(nan)), isSnapshotError);
  // Items that are not Examples cannot be encoded.
  assert.throws(() => encodeSamplerSnapshot({ ...s, items: ['text' as unknown as Example] }), isSnapshotError);
});

test('size and speed for k = 10,000 examples of ~60 features (printed)', () => {
  const k = 10_000;
  const data = examples(k * 2, 8, 60);
  for (const [name, sampler] of [
    ['uniform', new UniformReservoir<Example>(k, createRandom(1))],
    ['weighted', new WeightedReservoir<Example>(k, (e) => e.tokenCount, createRandom(1))],
    ['stratified', new StratifiedReservoir<Example>({ mode: 'shared', capacity: k, label: (e) => e.label }, createRandom(1))],
  ] as const) {
    data.forEach((e) => sampler.offer(e));
    const snapshot = sampler.snapshot();
    const features = snapshot.items.reduce((s, e) => s + e.features.indices.length, 0);
    let t = performance.now();
    const bytes = encodeSamplerSnapshot(snapshot);
    const encodeMs = performance.now() - t;
    t = performance.now();
    const decoded = decodeSamplerSnapshot(bytes);
    const decodeMs = performance.now() - t;
    assert.equal(decoded.items.length, snapshot.items.length);
    assert.ok(snapshot.items.length > k * 0.7);
    const json = Buffer.byteLength(JSON.stringify({ ...snapshot, items: snapshot.items.map((e) => ({ ...e, features: { ...e.features, indices: Array.from(e.features.indices), values: Array.from(e.features.values) } })) }));
    const perFeature = bytes.length / features;
    console.log(
      `${name}: k=${k}, ${snapshot.items.length} examples, ${features} features (${(features / snapshot.items.length).toFixed(1)}/example): ${(bytes.length / 1e6).toFixed(2)} MB (${perFeature.toFixed(2)} B/feature), ` +
        `encode ${encodeMs.toFixed(1)} ms, decode ${decodeMs.toFixed(1)} ms; as JSON ${(json / 1e6).toFixed(2)} MB`,
    );
    // Features dominate: 8 bytes each, plus a small per-example and header overhead.
    assert.ok(bytes.length < features * 8 + k * 40 + 400_000, `${bytes.length} bytes`);
  }
});
