import { ERROR_CODES, TokrsError, describeError } from '../errors.js';
import type { SamplerSnapshot } from '../sample/sampler.js';
import type { Example } from '../topology/record.js';

/**
 * Bytes of a reservoir of `Example`s (`SamplerSnapshot<Example>`), for checkpoints. JSON would spell every
 * feature as two decimal numbers (~25 bytes); here a feature is its 4-byte index and 4-byte float32 value as
 * they lie in memory, so k = 10,000 examples of 60 features take ~5 MB and encode in milliseconds.
 *
 * Layout (little-endian, every section 8-aligned):
 *
 *   "TKSX" | u8 format version | 3 zero bytes | u32 header length | header JSON (UTF-8) | pad to 8 |
 *   tokenCount f64[n] | timestamp f64[n] | label u32[n] | dim u32[n] (only with more than one dim) |
 *   nnz u32[n] | indices i32[total] | values f32[total] | packed extra arrays f64[...]
 *
 * The header holds the snapshot's kind, version, count, random state and `extra`, the label and dim tables,
 * n, total and the lengths of the packed arrays. Number arrays in `extra` (a weighted reservoir's log-keys,
 * a window sample's priorities) go to the binary part as float64, exact and far smaller than JSON.
 * Decoding checks the length exactly and every vector against the SparseVector invariants, so truncated or
 * corrupted bytes are a `TokrsError` SNAPSHOT, never a crash or a vector that breaks a learner later.
 *
 * ```ts
 * const bytes = encodeSamplerSnapshot(reservoir.snapshot());
 * fresh.restore(decodeSamplerSnapshot(bytes)); // fresh continues exactly as reservoir would
 * ```
 */
export const EXAMPLE_CODEC_VERSION = 1;
const MAGIC = [0x54, 0x4b, 0x53, 0x58]; // "TKSX"
const PREAMBLE = 12;
/** Shorter number arrays stay in the JSON header, where they are easier to read. */
const PACK_MIN = 8;

const align8 = (n: number): number => (n + 7) & ~7;

interface Header {
  kind: string;
  version: number;
  count: number;
  random: SamplerSnapshot<Example>['random'];
  extra: Record<string, unknown>;
  labels: string[];
  dims: number[];
  n: number;
  total: number;
  packed: number[];
}

interface PackedRef {
  $packed: number;
}

function snapshotError(message: string): TokrsError {
  return new TokrsError(ERROR_CODES.SNAPSHOT, message);
}

/** Section byte offsets (from the start of the data part) for n items, `total` features, packed arrays. */
function layout(n: number, total: number, multiDim: boolean, packed: readonly number[]) {
  let at = 0;
  const take = (bytes: number): number => {
    const start = at;
    at = align8(at + bytes);
    return start;
  };
  const tokenCount = take(8 * n);
  const timestamp = take(8 * n);
  const label = take(4 * n);
  const dim = multiDim ? take(4 * n) : -1;
  const nnz = take(4 * n);
  const indices = take(4 * total);
  const values = take(4 * total);
  const arrays = packed.map((length) => take(8 * length));
  return { tokenCount, timestamp, label, dim, nnz, indices, values, arrays, bytes: at };
}

export function encodeSamplerSnapshot(snapshot: SamplerSnapshot<Example>): Uint8Array {
  const items = snapshot.items;
  const n = items.length;
  const labels: string[] = [];
  const labelIndex = new Map<string, number>();
  const dims: number[] = [];
  const dimIndex = new Map<number, number>();
  const itemLabel = new Uint32Array(n);
  const itemDim = new Uint32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = items[i];
    const f = e?.features;
    if (typeof e?.label !== 'string' || f === undefined || f.indices?.length !== f.values?.length || !Number.isSafeInteger(f.dim)) {
      throw snapshotError(`cannot encode sample item ${i}: not an Example (label string, features with indices and values of one length, integer dim)`);
    }
    let l = labelIndex.get(e.label);
    if (l === undefined) labelIndex.set(e.label, (l = labels.push(e.label) - 1));
    let d = dimIndex.get(f.dim);
    if (d === undefined) dimIndex.set(f.dim, (d = dims.push(f.dim) - 1));
    itemLabel[i] = l;
    itemDim[i] = d;
    total += f.indices.length;
  }
  const packedArrays: number[][] = [];
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(snapshot.extra)) {
    if (Array.isArray(value) && value.length >= PACK_MIN && value.every((x) => typeof x === 'number')) {
      extra[key] = { $packed: packedArrays.push(value as number[]) - 1 } satisfies PackedRef;
    } else extra[key] = value;
  }
  const header: Header = {
    kind: snapshot.kind,
    version: snapshot.version,
    count: snapshot.count,
    random: snapshot.random,
    extra,
    labels,
    dims,
    n,
    total,
    packed: packedArrays.map((a) => a.length),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(PREAMBLE + headerBytes.length);
  const at = layout(n, total, dims.length > 1, header.packed);
  const out = new Uint8Array(dataStart + at.bytes);
  out.set(MAGIC, 0);
  out[4] = EXAMPLE_CODEC_VERSION;
  const view = new DataView(out.buffer);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, PREAMBLE);
  // `out` is a fresh buffer at offset 0 and every section is 8-aligned, so typed views can write in place.
  const buf = out.buffer;
  const base = dataStart;
  const tokenCount = new Float64Array(buf, base + at.tokenCount, n);
  const timestamp = new Float64Array(buf, base + at.timestamp, n);
  const nnz = new Uint32Array(buf, base + at.nnz, n);
  const indices = new Int32Array(buf, base + at.indices, total);
  const values = new Float32Array(buf, base + at.values, total);
  new Uint32Array(buf, base + at.label, n).set(itemLabel);
  if (at.dim >= 0) new Uint32Array(buf, base + at.dim, n).set(itemDim);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const e = items[i];
    tokenCount[i] = e.tokenCount;
    timestamp[i] = e.timestamp;
    const f = e.features;
    nnz[i] = f.indices.length;
    indices.set(f.indices, k);
    values.set(f.values, k);
    k += f.indices.length;
  }
  packedArrays.forEach((a, j) => new Float64Array(buf, base + at.arrays[j], a.length).set(a));
  return out;
}

export function decodeSamplerSnapshot(bytes: Uint8Array): SamplerSnapshot<Example> {
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof TokrsError) throw e;
    // Belt and braces: any other failure on hostile bytes is still "this is not a snapshot I can read".
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot decode sample snapshot: ${describeError(e)}`, { cause: e });
  }
}

function decode(bytes: Uint8Array): SamplerSnapshot<Example> {
  const fail = (what: string): never => {
    throw snapshotError(`cannot decode sample snapshot: ${what}`);
  };
  if (!(bytes instanceof Uint8Array) || bytes.length < PREAMBLE || MAGIC.some((m, i) => bytes[i] !== m)) fail('not a tokrs sample snapshot (bad magic)');
  if (bytes[4] !== EXAMPLE_CODEC_VERSION) fail(`format version ${bytes[4]}, this build reads ${EXAMPLE_CODEC_VERSION}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (PREAMBLE + headerLength > bytes.length) fail(`truncated header (${bytes.length} bytes, header needs ${PREAMBLE + headerLength})`);
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, PREAMBLE + headerLength))) as Header;
  } catch (e) {
    return fail(`bad header (${describeError(e)})`);
  }
  const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (h === null || typeof h !== 'object') fail('header is not an object');
  if (typeof h.kind !== 'string' || typeof h.version !== 'number' || !count(h.count) || !count(h.n) || !count(h.total)) fail('header lacks kind, version, count, n or total');
  if (h.random === null || typeof h.random !== 'object' || h.extra === null || typeof h.extra !== 'object' || Array.isArray(h.extra)) fail('header lacks random state or extra');
  if (!Array.isArray(h.labels) || !h.labels.every((l) => typeof l === 'string')) fail('header labels must be strings');
  if (!Array.isArray(h.dims) || !h.dims.every((d) => Number.isSafeInteger(d) && d > 0) || (h.n > 0 && h.dims.length === 0)) fail('header dims must be positive integers');
  if (!Array.isArray(h.packed) || !h.packed.every(count)) fail('header packed lengths must be non-negative integers');
  const dataStart = align8(PREAMBLE + headerLength);
  const { n, total } = h;
  const at = layout(n, total, h.dims.length > 1, h.packed);
  if (bytes.length !== dataStart + at.bytes) {
    fail(`expected ${dataStart + at.bytes} bytes for ${n} examples with ${total} features, got ${bytes.length} (truncated?)`);
  }
  // One copy of the data part into a fresh buffer: the input may be an unaligned slice of a larger Buffer
  // (and Buffer#slice does not copy, so copy explicitly).
  const data = new Uint8Array(bytes.length - dataStart);
  data.set(bytes.subarray(dataStart));
  const buf = data.buffer;
  const tokenCount = new Float64Array(buf, at.tokenCount, n);
  const timestamp = new Float64Array(buf, at.timestamp, n);
  const label = new Uint32Array(buf, at.label, n);
  const dim = at.dim >= 0 ? new Uint32Array(buf, at.dim, n) : undefined;
  const nnz = new Uint32Array(buf, at.nnz, n);
  const indices = new Int32Array(buf, at.indices, total);
  const values = new Float32Array(buf, at.values, total);
  const items: Example[] = new Array<Example>(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const m = nnz[i];
    if (k + m > total) fail(`example ${i} has ${m} features, past the ${total} stored`);
    if (label[i] >= h.labels.length) fail(`example ${i} has label index ${label[i]} of ${h.labels.length}`);
    const d = h.dims[dim === undefined ? 0 : dim[i]];
    if (d === undefined) fail(`example ${i} has an unknown dim index`);
    // Each example gets its own arrays, so one evicted later does not keep the whole decoded buffer alive.
    const idx = indices.slice(k, k + m);
    const val = values.slice(k, k + m);
    for (let j = 0; j < m; j++) {
      if (idx[j] < 0 || idx[j] >= d || (j > 0 && idx[j] <= idx[j - 1])) fail(`example ${i}: feature indices must be ascending in [0, ${d})`);
      if (!Number.isFinite(val[j])) fail(`example ${i}: feature value ${val[j]} is not finite`);
    }
    items[i] = { features: { indices: idx, values: val, dim: d }, label: h.labels[label[i]], tokenCount: tokenCount[i], timestamp: timestamp[i] };
    k += m;
  }
  if (k !== total) fail(`examples hold ${k} features, header says ${total}`);
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(h.extra)) {
    const ref = value as Partial<PackedRef> | null;
    if (ref !== null && typeof ref === 'object' && !Array.isArray(ref) && Object.keys(ref).length === 1 && '$packed' in ref) {
      const j = ref.$packed;
      if (typeof j !== 'number' || !Number.isSafeInteger(j) || j < 0 || j >= h.packed.length) return fail(`extra.${key} refers to packed array ${String(j)}`);
      extra[key] = Array.from(new Float64Array(buf, at.arrays[j], h.packed[j]));
    } else extra[key] = value;
  }
  return { kind: h.kind, version: h.version, count: h.count, items, random: h.random, extra };
}
