import { ERROR_CODES, TokrsError } from '../errors.js';
import type { ModelSnapshot, SnapshotArray } from './classifier.js';

/**
 * Bytes of a ModelSnapshot, for checkpoints and the snapshot topic. Layout (little-endian):
 *
 *   "TKMS" | u32 codec version | u32 header length | header JSON (UTF-8) | pad to 8 | arrays, each 8-aligned
 *
 * The header holds kind, version, dim, hashing, labels, meta and an index {name, type, length, offset} of
 * the arrays, whose bytes are copied as they are: no per-weight conversion, so a 2^20-bucket model
 * encodes in a few milliseconds. (Little-endian typed-array bytes: every platform Node runs on.)
 */
export const SNAPSHOT_CODEC_VERSION = 1;
const MAGIC = [0x54, 0x4b, 0x4d, 0x53]; // "TKMS"

const TYPES = { Float32Array, Float64Array, Int32Array, Uint8Array } as const;
type TypeName = keyof typeof TYPES;

interface IndexEntry {
  name: string;
  type: TypeName;
  length: number;
  offset: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

export function encodeModelSnapshot(s: ModelSnapshot): Uint8Array {
  const index: IndexEntry[] = [];
  let dataBytes = 0;
  for (const [name, a] of Object.entries(s.arrays)) {
    const type = a.constructor.name as TypeName;
    if (!(type in TYPES)) throw new TokrsError(ERROR_CODES.SNAPSHOT, `snapshot array '${name}' has unsupported type ${type}`);
    index.push({ name, type, length: a.length, offset: dataBytes });
    dataBytes = align8(dataBytes + a.byteLength);
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ kind: s.kind, version: s.version, dim: s.dim, hashing: s.hashing, labels: s.labels, meta: s.meta, arrays: index }),
  );
  const dataStart = align8(12 + header.length);
  const out = new Uint8Array(dataStart + dataBytes);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, SNAPSHOT_CODEC_VERSION, true);
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  for (const e of index) {
    const a = s.arrays[e.name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), dataStart + e.offset);
  }
  return out;
}

export function decodeModelSnapshot(bytes: Uint8Array): ModelSnapshot {
  const fail = (what: string): never => {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot decode model snapshot: ${what}`);
  };
  if (!(bytes instanceof Uint8Array) || bytes.length < 12 || MAGIC.some((m, i) => bytes[i] !== m)) fail('not a tokrs model snapshot (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const codec = view.getUint32(4, true);
  if (codec !== SNAPSHOT_CODEC_VERSION) fail(`codec version ${codec}, this build reads ${SNAPSHOT_CODEC_VERSION}`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail('truncated header');
  let header: { kind: string; version: number; dim: number; hashing: ModelSnapshot['hashing']; labels: string[]; meta: Record<string, unknown>; arrays: IndexEntry[] };
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)));
  } catch (e) {
    return fail(`bad header (${(e as Error).message})`);
  }
  if (!Array.isArray(header.arrays)) fail('header has no array index');
  const dataStart = align8(12 + headerLength);
  const arrays: Record<string, SnapshotArray> = {};
  for (const e of header.arrays) {
    const Type = TYPES[e.type];
    if (Type === undefined || !Number.isInteger(e.length) || e.length < 0 || !Number.isInteger(e.offset) || e.offset < 0) fail(`bad array entry ${JSON.stringify(e)}`);
    const start = dataStart + e.offset;
    const end = start + e.length * Type.BYTES_PER_ELEMENT;
    if (end > bytes.length) fail(`array '${e.name}' runs past the end (truncated snapshot?)`);
    // Copy into a fresh, aligned buffer: the input may be a slice of a larger, unaligned Buffer.
    const copy = Uint8Array.prototype.slice.call(bytes, start, end);
    arrays[e.name] = new Type(copy.buffer, 0, e.length);
  }
  return { kind: header.kind, version: header.version, dim: header.dim, hashing: header.hashing, labels: header.labels, meta: header.meta, arrays };
}
