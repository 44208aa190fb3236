/**
 * MurmurHash3 x86 32-bit (Austin Appleby, SMHasher `MurmurHash3_x86_32`), over the UTF-8 bytes of a string.
 *
 * Feature indices are part of the snapshot format, so this must give the same number on every machine and
 * in every process: it uses only 32-bit integer arithmetic (`Math.imul`, `>>> 0`), no platform hash, and
 * encodes strings as UTF-8 with lone surrogates written as U+FFFD (as `TextEncoder` does).
 *
 * @example
 * murmur3('Hello, world!', 1234) // 0xfaf6cdb3
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** A 4-byte block (or the zero-padded tail) scrambled as MurmurHash3 does before mixing it into a hash. */
function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Mixes a scrambled block into the running hash. */
function mixBlock(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finalisation mix, as an unsigned 32-bit integer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 of `bytes[0..length)` with `seed`, as an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, seed: number, length: number = bytes.length): number {
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, scramble(bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)));
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2] << 16;
    if (tail >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    h ^= scramble(k);
  }
  return fmix(h ^ length);
}

const pairOut = new Uint32Array(2);

/** MurmurHash3_x86_32 of the UTF-8 bytes of `text` (lone surrogates as U+FFFD), as an unsigned 32-bit integer. */
export function murmur3(text: string, seed = 0): number {
  murmur3Pair(text, seed, seed, pairOut);
  return pairOut[0];
}

/**
 * Both hashes of one token in a single pass over its characters: the bucket hash (`seed`) and the sign
 * hash (`signSeed`). Writes them into `out[0]` and `out[1]`; each is `murmur3Bytes` of the text's UTF-8
 * bytes under its seed. This is the featurizer's inner loop, run for every token of every message.
 *
 * Two things make it cheaper than hashing twice: a block's scrambling (`k`) does not depend on the seed,
 * so it is done once; and the UTF-8 bytes are fed straight from the code units into a 4-byte accumulator
 * instead of being written to a buffer and read back (a fifth of the hashing time on 2-character words).
 * Lone surrogates are encoded as U+FFFD, as `TextEncoder` does.
 */
export function murmur3Pair(text: string, seed: number, signSeed: number, out: Uint32Array): void {
  let h = seed | 0;
  let g = signSeed | 0;
  let held = 0; // bytes not yet mixed, little-endian, as a block is read
  let heldCount = 0;
  let length = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    let bytes: number; // this character's UTF-8 bytes, first byte lowest
    let count: number;
    if (c < 0x80) {
      bytes = c;
      count = 1;
    } else if (c < 0x800) {
      bytes = (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
      count = 3;
    } else {
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        bytes =
          (0xf0 | (c >> 18)) |
          ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      } else {
        bytes = 0xef | (0xbf << 8) | (0xbd << 16); // lone surrogate: U+FFFD, as TextEncoder writes
        count = 3;
      }
    }
    length += count;
    const room = 4 - heldCount;
    if (count < room) {
      held |= bytes << (heldCount << 3);
      heldCount += count;
      continue;
    }
    // A block is complete: mix it into both hashes, keep the bytes that did not fit.
    const k = scramble(held | (bytes << (heldCount << 3)));
    h = mixBlock(h, k);
    g = mixBlock(g, k);
    heldCount = count - room;
    held = heldCount === 0 ? 0 : bytes >>> (room << 3);
  }
  if (heldCount > 0) {
    const k = scramble(held);
    h ^= k;
    g ^= k;
  }
  out[0] = fmix(h ^ length);
  out[1] = fmix(g ^ length);
}
