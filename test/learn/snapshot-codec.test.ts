/** The model snapshot codec: compact Float64 forms (codec version 2), and version-1 bytes still decoding. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelSnapshot, SnapshotArray } from '../../src/learn/classifier.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../../src/learn/snapshot-codec.js';
import { adagrad } from '../../src/learn/optimizers.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { prng } from '../support/prng.js';

const snapshotOf = (arrays: Record<string, SnapshotArray>): ModelSnapshot => ({ kind: 'test', version: 1, dim: 8, hashing: {}, labels: ['a'], meta: { m: 1 }, arrays });
const bits = (a: SnapshotArray): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const indexOf = (bytes: Uint8Array): { name: string; as?: string }[] => {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  return (JSON.parse(Buffer.from(bytes.subarray(12, 12 + length)).toString()) as { arrays: { name: string; as?: string }[] }).arrays;
};

test('Float64 arrays of +0s or of u32 integers are stored compactly and decode to the same bits; others stay doubles', () => {
  const arrays: Record<string, SnapshotArray> = {
    zeros: new Float64Array(1000),
    empty: new Float64Array(0),
    clocks: Float64Array.from([0, 1, 7, 2 ** 32 - 1, 11983, 0]),
    negativeZero: Float64Array.from([0, -0, 3]),
    fractional: Float64Array.from([1, 2.5]),
    tooLarge: Float64Array.from([2 ** 32]),
    negative: Float64Array.from([-1, 2]),
    notANumber: Float64Array.from([1, NaN]),
    infinite: Float64Array.from([Infinity]),
    w: Float32Array.from([0, 1.5, -0]),
    rows: Int32Array.from([1, 5, 9]),
    flags: Uint8Array.from([1, 0, 1]),
  };
  const bytes = encodeModelSnapshot(snapshotOf(arrays));
  const as = Object.fromEntries(indexOf(bytes).map((e) => [e.name, e.as ?? 'plain']));
  assert.deepEqual(as, {
    zeros: 'zeros', empty: 'zeros', clocks: 'u32', negativeZero: 'plain', fractional: 'plain', tooLarge: 'plain', negative: 'plain', notANumber: 'plain', infinite: 'plain', w: 'plain', rows: 'plain', flags: 'plain',
  });
  const decoded = decodeModelSnapshot(bytes);
  for (const [name, a] of Object.entries(arrays)) {
    const b = decoded.arrays[name]!;
    assert.equal(b.constructor, a.constructor, name);
    assert.equal(bits(b), bits(a), name);
  }
  assert.ok(bytes.length < 8000, `${bytes.length} bytes: the 1000 zeros took their 8,000`);
});

test('a trained AdaGrad model: the snapshot shrinks, restores bit for bit, and version-1 bytes of it still decode', () => {
  const dim = 2 ** 14;
  const m = new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-6 });
  const r = prng(3);
  for (let i = 0; i < 2000; i++) {
    const indices = Int32Array.from(new Set(Array.from({ length: 20 }, () => Math.floor(r() * dim)))).sort();
    m.learn({ indices, values: new Float32Array(indices.length).fill(0.2), dim }, r() < 0.5 ? 'pos' : 'neg');
  }
  const snap = m.snapshot();
  const plainBytes = Object.values(snap.arrays).reduce((n, a) => n + a.byteLength, 0);
  const bytes = encodeModelSnapshot(snap);
  assert.deepEqual(Object.fromEntries(indexOf(bytes).filter((e) => e.as !== undefined).map((e) => [e.name, e.as])), { classCounts: 'u32', lastA: 'u32', lastB: 'zeros' });
  assert.ok(bytes.length < 0.7 * plainBytes, `${bytes.length} bytes encoded for ${plainBytes} of arrays`);
  const restored = new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-6 });
  restored.restore(decodeModelSnapshot(bytes));
  assert.deepEqual(restored.snapshot(), snap);

  // Version 1 as the previous build wrote it: every array as itself.
  const header = new TextEncoder().encode(JSON.stringify({ kind: snap.kind, version: snap.version, dim: snap.dim, hashing: snap.hashing, labels: snap.labels, meta: snap.meta, arrays: [] as object[] }));
  const index: object[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(snap.arrays)) {
    index.push({ name, type: a.constructor.name, length: a.length, offset });
    offset = (offset + a.byteLength + 7) & ~7;
  }
  const headerV1 = new TextEncoder().encode(new TextDecoder().decode(header).replace('"arrays":[]', `"arrays":${JSON.stringify(index)}`));
  const start = (12 + headerV1.length + 7) & ~7;
  const v1 = new Uint8Array(start + offset);
  v1.set([0x54, 0x4b, 0x4d, 0x53]);
  new DataView(v1.buffer).setUint32(4, 1, true);
  new DataView(v1.buffer).setUint32(8, headerV1.length, true);
  v1.set(headerV1, 12);
  (index as { name: string; offset: number }[]).forEach((e) => {
    const a = snap.arrays[e.name]!;
    v1.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), start + e.offset);
  });
  assert.deepEqual(decodeModelSnapshot(v1), snap);

  // A compact form in version-1 bytes, or an unknown one, is refused.
  const forged = encodeModelSnapshot(snap);
  new DataView(forged.buffer).setUint32(4, 1, true);
  assert.throws(() => decodeModelSnapshot(forged), { code: 'TOKRS_ERR_SNAPSHOT', message: /bad array entry/ });
  const future = encodeModelSnapshot(snap);
  new DataView(future.buffer).setUint32(4, 3, true);
  assert.throws(() => decodeModelSnapshot(future), { code: 'TOKRS_ERR_SNAPSHOT', message: /codec version 3, this build reads 1 and 2/ });
});
