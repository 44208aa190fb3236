import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTokrsError } from '../../src/errors.js';
import { BIGRAM_SEPARATOR, createFeaturizer, type Featurizer } from '../../src/features/featurizer.js';
import { murmur3 } from '../../src/features/murmur3.js';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { readReviews, WAIMAI } from '../support/data.js';

const plain = (v: SparseVector) => ({ indices: [...v.indices], values: [...v.values], dim: v.dim });

/** Independent recomputation: a dense array filled token by token, straight from the definition. */
function reference(tokens: string[], bits: number, opts: { signed: boolean; bigrams: boolean; seed?: number; signSeed?: number }) {
  const seed = opts.seed ?? 0;
  const signSeed = opts.signSeed ?? 0x9747b28c;
  const terms = [...tokens];
  if (opts.bigrams) for (let i = 1; i < tokens.length; i++) terms.push(tokens[i - 1] + BIGRAM_SEPARATOR + tokens[i]);
  const dense = new Map<number, number>();
  for (const t of terms) {
    const index = murmur3(t, seed) % 2 ** bits;
    const sign = opts.signed && (murmur3(t, signSeed) & 1) === 1 ? -1 : 1;
    dense.set(index, (dense.get(index) ?? 0) + sign);
  }
  const indices = [...dense.keys()].filter((i) => dense.get(i) !== 0).sort((a, b) => a - b);
  return { indices, values: indices.map((i) => dense.get(i) as number), dim: 2 ** bits };
}

test('tf vector equals the dense recomputation from murmur3, with sign and bigrams', () => {
  const tokens = ['味道', '不错', '味道', '很', '快', '不错', '味道'];
  for (const signed of [false, true]) {
    for (const bigrams of [false, true]) {
      for (const bits of [3, 20]) {
        const f = createFeaturizer({ bits, signed, bigrams, l2: false, weighting: 'tf' });
        assert.deepEqual(plain(f.featurize(tokens)), reference(tokens, bits, { signed, bigrams }), `signed=${signed} bigrams=${bigrams} bits=${bits}`);
      }
    }
  }
});

test('known indices for a fixed token are pinned (they are part of the snapshot format)', () => {
  // 0x9134393b was computed by a separate pure-Python MurmurHash3 over '味道'.encode('utf-8'); pinned so
  // that any change to hashing, UTF-8 encoding or masking fails here.
  const h = murmur3('味道', 0);
  const f = createFeaturizer({ bits: 20, signed: false, l2: false });
  assert.deepEqual(plain(f.featurize(['味道'])), { indices: [h & 0xfffff], values: [1], dim: 1 << 20 });
  assert.equal(h, 0x9134393b);
});

test('bigrams add one feature per adjacent pair', () => {
  const off = createFeaturizer({ bits: 30, l2: false, bigrams: false }).featurize(['a', 'b', 'c']);
  const on = createFeaturizer({ bits: 30, l2: false, bigrams: true }).featurize(['a', 'b', 'c']);
  assert.equal(off.indices.length, 3);
  assert.equal(on.indices.length, 5);
  for (const i of off.indices) assert.ok(on.indices.includes(i));
});

test('sign hash gives both signs and can be turned off', () => {
  const tokens = Array.from({ length: 200 }, (_, i) => `t${i}`);
  const signed = createFeaturizer({ l2: false, weighting: 'binary' }).featurize(tokens);
  const negatives = [...signed.values].filter((v) => v < 0).length;
  assert.ok(negatives > 60 && negatives < 140, `about half negative, got ${negatives}/200`);
  const unsigned = createFeaturizer({ l2: false, weighting: 'binary', signed: false }).featurize(tokens);
  assert.ok([...unsigned.values].every((v) => v > 0));
});

test('weighting binary / tf / logtf and L2 normalisation', () => {
  const tokens = ['a', 'a', 'a', 'b'];
  const get = (weighting: 'binary' | 'tf' | 'logtf', l2: boolean) => {
    const v = createFeaturizer({ bits: 30, signed: false, weighting, l2 }).featurize(tokens);
    const ia = v.indices.indexOf(murmur3('a', 0) & (2 ** 30 - 1));
    const ib = v.indices.indexOf(murmur3('b', 0) & (2 ** 30 - 1));
    return [v.values[ia], v.values[ib]];
  };
  assert.deepEqual(get('binary', false), [1, 1]);
  assert.deepEqual(get('tf', false), [3, 1]);
  const [la, lb] = get('logtf', false);
  assert.ok(Math.abs(la - (1 + Math.log(3))) < 1e-6);
  assert.equal(lb, 1);
  const [na, nb] = get('tf', true);
  assert.ok(Math.abs(na - 3 / Math.sqrt(10)) < 1e-6 && Math.abs(nb - 1 / Math.sqrt(10)) < 1e-6);
});

test('output keeps the SparseVector invariants on many random token lists', () => {
  const f = createFeaturizer({ bits: 6, bigrams: true });
  for (let n = 0; n < 200; n++) {
    const tokens = Array.from({ length: n % 40 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919 + n) % 300)));
    const v = f.featurize(tokens);
    assert.equal(v.indices.length, v.values.length);
    for (let i = 0; i < v.indices.length; i++) {
      assert.ok(v.indices[i] >= 0 && v.indices[i] < 64);
      if (i > 0) assert.ok(v.indices[i] > v.indices[i - 1], 'sorted, no duplicates');
      assert.ok(Number.isFinite(v.values[i]) && v.values[i] !== 0);
    }
  }
  assert.deepEqual(plain(f.featurize([])), { indices: [], values: [], dim: 64 });
});

test('bad features config is a TOKRS_ERR_CONFIG error naming the key', () => {
  assert.throws(() => createFeaturizer({ bits: 0 }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG') && /bits/.test(e.message));
  assert.throws(() => createFeaturizer({ bits: 31 }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG'));
  assert.throws(() => createFeaturizer({ seed: 5, signSeed: 5 }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG') && /signSeed/.test(e.message));
});

test('on every waimai text, the vector equals the dense recomputation (short vectors and long ones)', () => {
  const tokenizer = createTokenizer({});
  const texts = readReviews(WAIMAI).map((r) => r.text);
  for (const bigrams of [false, true]) {
    const f = createFeaturizer({ bits: 20, bigrams, l2: false, weighting: 'tf' });
    for (const text of texts) {
      const { tokens } = tokenizer.tokenize(text);
      assert.deepEqual(plain(f.featurize(tokens)), reference(tokens, 20, { signed: true, bigrams }), text);
    }
  }
});

/** `featurizeCodesInto` of the terms of `tokens`, hashed in JavaScript: what a worker does without the addon. */
const featurizeInto = (f: Featurizer, tokens: string[], indices: Int32Array, values: Float32Array, at: number): number => {
  const { codes, count } = f.hashTerms(tokens);
  return f.featurizeCodesInto(codes, count, indices, values, at);
};

test('featurizeCodesInto writes the vector featurize gives, packed one after another, and refuses arrays without room', () => {
  const tokenizer = createTokenizer({});
  const texts = readReviews(WAIMAI).slice(0, 400).map((r) => r.text);
  for (const config of [{ bigrams: true }, { bigrams: false, weighting: 'logtf' as const, l2: false }]) {
    const f = createFeaturizer(config);
    const all = texts.map((t) => tokenizer.tokenize(t).tokens);
    const size = all.reduce((n, tokens) => n + f.maxFeatures(tokens.length), 0);
    const indices = new Int32Array(size);
    const values = new Float32Array(size);
    let at = 0;
    for (const tokens of all) {
      const k = featurizeInto(f, tokens, indices, values, at);
      assert.ok(k <= f.maxFeatures(tokens.length));
      const v = f.featurize(tokens);
      assert.deepEqual([...indices.subarray(at, at + k)], [...v.indices]);
      assert.deepEqual([...values.subarray(at, at + k)], [...v.values]);
      at += k;
    }
    assert.equal(featurizeInto(f, [], indices, values, 0), 0);
  }
  const f = createFeaturizer({});
  assert.throws(() => featurizeInto(f, ['味道', '不错', '快'], new Int32Array(4), new Float32Array(4), 2), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT') && /do not fit/.test(e.message));
  for (const at of [-1, 0.5, Number.NaN]) {
    assert.throws(() => featurizeInto(f, ['味道'], new Int32Array(4), new Float32Array(4), at), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT') && /position/.test(e.message));
  }
});

const TEXT = '外卖送得很快，味道不错！下次还点这家。';

test('the same text gives the same vector twice and in a second process', () => {
  const { tokens } = createTokenizer({ tokenizer: 'jieba' }).tokenize(TEXT);
  const f = createFeaturizer({ bigrams: true });
  const first = plain(f.featurize(tokens));
  assert.deepEqual(plain(createFeaturizer({ bigrams: true }).featurize(tokens)), first);
  assert.ok(first.indices.length > 5);
  const script = fileURLToPath(new URL('./fixtures/print-vector.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, TEXT], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), first);
});
