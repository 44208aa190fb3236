/**
 * A bounds check of Avro binary against its writer schema, run before avsc decodes untrusted bytes.
 *
 * avsc reads an array or map block of n items with `while (n--)` and never looks at whether the buffer
 * has ended (it only says "truncated" once the loop is over), so one flipped byte in a block count
 * (e.g. 0x7fa0abfef962 → 13 billion items) keeps a consumer busy for hours. Found by test/fuzz/decoders.
 * This walk reads the same bytes without building values and refuses a block that claims more items than
 * the bytes left could hold, so every decode is bounded by the message length.
 */
import type { Type } from 'avsc';

/** Items of a zero-byte type (null, empty record) are allowed this many per block: no real data has more. */
const MAX_EMPTY_ITEMS = 1_000_000;

class Truncated extends Error {}

interface Cursor {
  readonly buf: Buffer;
  pos: number;
}

function readLong(c: Cursor): number {
  let n = 0;
  let k = 0;
  let b: number;
  let f = 1;
  do {
    if (c.pos >= c.buf.length) throw new Truncated('truncated varint');
    b = c.buf[c.pos++]!;
    if (k < 9) {
      n += (b & 0x7f) * f;
      f *= 128;
    }
    k++;
    if (k > 10) throw new Truncated('varint longer than 10 bytes');
  } while (b & 0x80);
  // zig-zag: even → n/2, odd → -(n+1)/2 (exact enough for the bounds compared below).
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function skip(c: Cursor, bytes: number): void {
  if (bytes < 0 || c.pos + bytes > c.buf.length) throw new Truncated(`needs ${bytes} bytes at ${c.pos}, ${c.buf.length - c.pos} left`);
  c.pos += bytes;
}

/** Fewest bytes one value of `type` takes (0 for null and records of nulls). */
function minSize(type: Type, seen = new Set<Type>()): number {
  const t = underlying(type);
  if (seen.has(t)) return 1;
  switch (t.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (t as unknown as { size: number }).size;
    case 'record':
    case 'error': {
      seen.add(t);
      let sum = 0;
      for (const f of (t as unknown as { fields: { type: Type }[] }).fields) sum += minSize(f.type, seen);
      seen.delete(t);
      return sum;
    }
    default:
      return 1; // varints, lengths, union branch indices, block terminators
  }
}

function underlying(type: Type): Type {
  let t = type;
  while (t.typeName.startsWith('logical:')) t = (t as unknown as { underlyingType: Type }).underlyingType;
  return t;
}

function walk(type: Type, c: Cursor, depth: number): void {
  if (depth > 64) throw new Truncated('nesting deeper than 64');
  const t = underlying(type);
  const name = t.typeName;
  switch (name) {
    case 'null':
      return;
    case 'boolean':
      return skip(c, 1);
    case 'int':
    case 'long':
    case 'enum':
      readLong(c);
      return;
    case 'float':
      return skip(c, 4);
    case 'double':
      return skip(c, 8);
    case 'bytes':
    case 'string':
      return skip(c, readLong(c));
    case 'fixed':
      return skip(c, (t as unknown as { size: number }).size);
    case 'record':
    case 'error':
      for (const f of (t as unknown as { fields: { type: Type }[] }).fields) walk(f.type, c, depth + 1);
      return;
    case 'array':
    case 'map': {
      const item = name === 'array' ? (t as unknown as { itemsType: Type }).itemsType : (t as unknown as { valuesType: Type }).valuesType;
      const itemMin = minSize(item) + (name === 'map' ? 1 : 0);
      for (;;) {
        let n = readLong(c);
        if (n === 0) return;
        if (n < 0) {
          n = -n;
          readLong(c); // block size in bytes
        }
        const left = c.buf.length - c.pos;
        if (itemMin === 0 ? n > MAX_EMPTY_ITEMS : n * itemMin > left) {
          throw new Truncated(`a block of ${n} ${name} items at ${c.pos} cannot fit in the ${left} bytes left`);
        }
        for (let i = 0; i < n; i++) {
          if (name === 'map') skip(c, readLong(c));
          walk(item, c, depth + 1);
        }
      }
    }
    default:
      if (name.startsWith('union')) {
        const branches = (t as unknown as { types: Type[] }).types;
        const index = readLong(c);
        if (index < 0 || index >= branches.length) throw new Truncated(`union branch ${index} of ${branches.length}`);
        return walk(branches[index]!, c, depth + 1);
      }
      // A type this walk does not know: leave it to avsc.
      throw new Unknown();
  }
}

class Unknown extends Error {}

/**
 * Undefined when `body` can be decoded as `writer` within its length, else why not. A schema with a type
 * the walk does not know passes (avsc decides).
 */
export function avroBoundsProblem(writer: Type, body: Buffer): string | undefined {
  try {
    walk(writer, { buf: body, pos: 0 }, 0);
    return undefined;
  } catch (error) {
    if (error instanceof Truncated) return error.message;
    if (error instanceof Unknown) return undefined;
    throw error;
  }
}
