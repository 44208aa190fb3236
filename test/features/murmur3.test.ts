import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { murmur3, murmur3Bytes, murmur3Pair } from '../../src/features/murmur3.js';

const bytes = (...b: number[]) => new Uint8Array(b);

test('MurmurHash3_x86_32 matches the published test vectors (bytes)', () => {
  // Vectors from the SMHasher discussion (https://stackoverflow.com/a/31929528), independent of this code.
  const cases: [Uint8Array, number, number][] = [
    [bytes(), 0, 0],
    [bytes(), 1, 0x514e28b7],
    [bytes(), 0xffffffff, 0x81f16f39],
    [bytes(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
    [bytes(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
    [bytes(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
    [bytes(0x21, 0x43, 0x65), 0, 0x7e4a8634],
    [bytes(0x21, 0x43), 0, 0xa0f7b07a],
    [bytes(0x21), 0, 0x72661cf4],
    [bytes(0, 0, 0, 0), 0, 0x2362f9de],
    [bytes(0, 0, 0), 0, 0x85f0b427],
    [bytes(0, 0), 0, 0x30f4c306],
    [bytes(0), 0, 0x514e28b7],
  ];
  for (const [input, seed, expected] of cases) {
    assert.equal(murmur3Bytes(input, seed), expected, `bytes [${[...input].join(',')}] seed ${seed}`);
  }
});

test('MurmurHash3_x86_32 matches the published test vectors (UTF-8 strings)', () => {
  assert.equal(murmur3('Hello, world!', 1234), 0xfaf6cdb3);
  assert.equal(murmur3('Hello, world!', 4321), 0xbf505788);
  assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c), 0x2fa826cd);
  assert.equal(murmur3('aaaa', 0x9747b28c), 0x5a97808a);
  assert.equal(murmur3('aaa', 0x9747b28c), 0x283e0130);
  assert.equal(murmur3('aa', 0x9747b28c), 0x5d211726);
  assert.equal(murmur3('a', 0x9747b28c), 0x7fa09ea6);
  assert.equal(murmur3('abcd', 0x9747b28c), 0xf0478627);
  assert.equal(murmur3('abc', 0x9747b28c), 0xc84a62dd);
  assert.equal(murmur3('ab', 0x9747b28c), 0x74875592);
  // Two-byte UTF-8 characters: checks the encoder as well as the hash.
  assert.equal(murmur3('ππππππππ', 0x9747b28c), 0xd58063c1);
});

test('SMHasher verification value for MurmurHash3_x86_32 is 0xB0F57EE3', () => {
  // SMHasher's VerificationTest: hash keys {0}, {0,1}, … {0..254} with seed 256-i, hash the 256 results.
  const key = new Uint8Array(256);
  const hashes = new Uint8Array(1024);
  const view = new DataView(hashes.buffer);
  for (let i = 0; i < 256; i++) {
    key[i] = i;
    view.setUint32(i * 4, murmur3Bytes(key, 256 - i, i), true);
  }
  assert.equal(murmur3Bytes(hashes, 0), 0xb0f57ee3);
});

test('strings are hashed as their UTF-8 bytes, lone surrogates as U+FFFD (like TextEncoder)', () => {
  const encoder = new TextEncoder();
  for (const text of ['今天天气不错', '😀 emoji', 'a\ud800b', '\udc00', 'x'.repeat(1000) + '好']) {
    assert.equal(murmur3(text, 7), murmur3Bytes(encoder.encode(text), 7), JSON.stringify(text.slice(0, 20)));
  }
});

test('murmur3Pair gives murmur3 under both seeds, for every length of tail and every UTF-8 width', () => {
  const out = new Uint32Array(2);
  const texts = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '味道', '味道不错', 'π', '😀', 'a\ud800b', '\udc00', 'x'.repeat(1000) + '好'];
  for (const text of texts) {
    for (const [seed, signSeed] of [[0, 0x9747b28c], [1234, 4321], [0xffffffff, 0]]) {
      murmur3Pair(text, seed, signSeed, out);
      assert.deepEqual([...out], [murmur3(text, seed), murmur3(text, signSeed)], `${JSON.stringify(text.slice(0, 10))} ${seed}/${signSeed}`);
    }
  }
});

test('murmur3Pair equals MurmurHash3 of TextEncoder bytes on random strings of every UTF-16 shape', () => {
  const encoder = new TextEncoder();
  const out = new Uint32Array(2);
  // Code units drawn from every UTF-8 width and from both surrogate halves, so lone and paired surrogates occur.
  const unit = fc.oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xd7ff }),
    fc.integer({ min: 0xd800, max: 0xdfff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
  );
  const text = fc.array(unit, { maxLength: 24 }).map((units) => String.fromCharCode(...units));
  fc.assert(
    fc.property(text, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (t, seed, signSeed) => {
      const bytes = encoder.encode(t);
      murmur3Pair(t, seed, signSeed, out);
      return out[0] === murmur3Bytes(bytes, seed) && out[1] === murmur3Bytes(bytes, signSeed);
    }),
    { seed: 20261204, numRuns: 20_000 },
  );
});
