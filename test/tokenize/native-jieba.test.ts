/**
 * tokrs's jieba addon (native/jieba) against what it replaces: nodejieba's own binding for segmentation,
 * and the JavaScript tokenize + featurize path for everything after it. The addon must be built here
 * (npm install compiles it; CI installs from scratch), so a missing build fails the first test rather
 * than letting the rest compare the JavaScript path with itself.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { isTokrsError } from '../../src/errors.js';
import type { FeaturesConfigInput } from '../../src/features/config.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import type { TokenizeConfigInput } from '../../src/tokenize/config.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { joinAsciiRuns } from '../../src/tokenize/jieba.js';
import { nativeJiebaStatus } from '../../src/tokenize/native-jieba.js';
import { readReviews, WAIMAI } from '../support/data.js';

const require = createRequire(import.meta.url);
const texts = readReviews(WAIMAI).map((r) => r.text);

/** Texts that reach every branch: spaces of all kinds, ASCII runs, surrogates, controls, emoji, full-width forms. */
const awkward = [
  '',
  '   ',
  '\u3000\u00a0\u2028\ufeff',
  'iPhone13 很好用 OK 100 分',
  'a b  c\td',
  '１２３ＡＢＣ，好吃！',
  'x\ud800y\udc00z',
  '\u0000\u0007控制\u001f字符\u007f',
  '😀😀 好 🦊吃',
  'ꙮ ǅ Σ ς ﬁ ㈱',
  '外卖送得很快，味道不错 iPhone13 OK',
  '我来到北京清华大学',
  '小明硕士毕业于中国科学院计算所，后在日本京都大学深造',
  '12ab34 cd 5 ef6',
];

const alphabet = fc.constantFrom(
  ...'好吃的外卖送得很快味道不错中国科学院aZ09 \t\n\u3000\u00a0，。！？,.!?😀\ud800\udc00\u0001ＡＢ１'.split(''),
);
/** What normalisation would have made of a text before the segmenter sees it (controls → space, lone surrogates → U+FFFD). */
const withoutControlsOrSurrogates = (t: string): string =>
  [...t].map((c) => (c.charCodeAt(0) < 0x20 || (c.length === 1 && c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff) ? ' ' : c)).join('');

const randomText = fc.array(alphabet, { maxLength: 40 }).map((cs) => cs.join(''));

test('the addon is built and is what the nodejieba engine uses by default', () => {
  assert.deepEqual(nativeJiebaStatus(), { loaded: true });
  assert.match(createTokenizer({}).segmenter.name, /^jieba\/nodejieba\+addon\/mix$/);
  assert.match(createTokenizer({ jieba: { binding: 'nodejieba' } }).segmenter.name, /^jieba\/nodejieba\/mix$/);
});

test('every mode segments like nodejieba itself (cut, cutForSearch, cutAll, cutHMM), on all reviews', () => {
  const nodejieba = require('nodejieba') as typeof import('nodejieba');
  const cases: [TokenizeConfigInput['jieba'], (t: string) => string[]][] = [
    [{ mode: 'mix', hmm: false }, (t) => joinAsciiRuns(nodejieba.cut(t, false))],
    [{ mode: 'mix', hmm: true }, (t) => nodejieba.cut(t, true)],
    [{ mode: 'search', hmm: false }, (t) => joinAsciiRuns(nodejieba.cutForSearch(t, false))],
    [{ mode: 'search', hmm: true }, (t) => nodejieba.cutForSearch(t, true)],
    [{ mode: 'full' }, (t) => nodejieba.cutAll(t)],
    [{ mode: 'hmm' }, (t) => nodejieba.cutHMM(t)],
  ];
  for (const [jieba, reference] of cases) {
    const segment = createTokenizer({ jieba: { ...jieba, binding: 'addon' } }).segmenter.tokenize;
    let compared = 0;
    for (const text of [...texts, ...awkward.map(withoutControlsOrSurrogates)]) {
      assert.deepEqual(segment(text), reference(text), `${JSON.stringify(jieba)}: ${text}`);
      compared++;
    }
    assert.equal(compared, texts.length + awkward.length);
  }
});

/** Tokens, counts and vector of one text through the tokenize stage, with and without the addon. */
function bothPaths(tokenize: TokenizeConfigInput, features: FeaturesConfigInput) {
  const addon = createTokenizer({ ...tokenize, jieba: { ...tokenize.jieba, binding: 'addon' } });
  const js = createTokenizer({ ...tokenize, jieba: { ...tokenize.jieba, binding: 'nodejieba' } });
  const featurizer = createFeaturizer(features);
  const run = (t: typeof addon, text: unknown) => {
    const h = t.tokenizeHashed(text, featurizer);
    const v = featurizer.featurizeCodes(h.codes, h.codeCount);
    return {
      tokens: h.tokens,
      tokenCount: h.tokenCount,
      truncated: h.truncated,
      tokensDropped: h.tokensDropped,
      codes: [...h.codes.subarray(0, h.codeCount)],
      indices: [...v.indices],
      values: [...v.values],
    };
  };
  return {
    check(text: unknown): void {
      const a = run(addon, text);
      const b = run(js, text);
      assert.deepEqual(a, b, `${JSON.stringify(tokenize)} ${JSON.stringify(features)}: ${String(text).slice(0, 80)}`);
      // And the JavaScript path's codes make the vector featurize(tokens) makes: one definition of a vector.
      const direct = featurizer.featurize(b.tokens);
      assert.deepEqual([...direct.indices], b.indices);
      assert.deepEqual([...direct.values], b.values);
    },
  };
}

const settings: [TokenizeConfigInput, FeaturesConfigInput][] = [
  [{}, {}],
  [{}, { bigrams: true }],
  [{}, { signed: false, weighting: 'logtf', l2: false }],
  [{}, { bits: 3, weighting: 'binary' }], // 8 buckets: collisions and cancelled buckets on every text
  [{}, { seed: 7, signSeed: 0xffffffff, bits: 30 }],
  [{ maxTokens: 5 }, { bigrams: true }],
  [{ maxLength: 12 }, {}],
  [{ jieba: { hmm: true } }, { bigrams: true }],
  [{ jieba: { mode: 'search' } }, {}],
  [{ jieba: { mode: 'full' } }, { bigrams: true }],
  [{ jieba: { mode: 'hmm' } }, {}],
  [{ normalize: { nfkc: false, fullwidth: false, lowercase: false } }, {}],
];

test('tokens, counts, codes and vectors: the addon gives what the JavaScript path gives, on all reviews', () => {
  for (const [tokenize, features] of settings) {
    const paths = bothPaths(tokenize, features);
    for (const text of texts) paths.check(text);
    for (const text of awkward) paths.check(text);
  }
});

test('overlapping words can outnumber the characters: the codes array grows to fit (full and search modes)', () => {
  // 126 characters give 321 codes in full mode with bigrams; the second text, after a shorter one, more
  // than a first call's array held.
  for (const [tokenize, features] of [[{ jieba: { mode: 'full' } }, { bigrams: true }], [{ jieba: { mode: 'search' } }, { bigrams: true }]] as const) {
    const paths = bothPaths(tokenize, features);
    paths.check('中华人民共和国'.repeat(18));
    paths.check('中华人民共和国万岁'.repeat(22));
    paths.check('中华人民共和国'.repeat(57));
  }
});

test('without keepTokens the addon only counts the tokens: same counts, truncation and codes', () => {
  let counted = 0;
  for (const [tokenize, features] of [[{ maxTokens: 20 }, {}] as const, ...settings]) {
    const t = createTokenizer(tokenize);
    const f = createFeaturizer({ bigrams: true, ...features });
    for (const text of [...texts.slice(0, 2000), ...awkward]) {
      const kept = t.tokenizeHashed(text, f);
      const want = { tokenCount: kept.tokenCount, truncated: kept.truncated, tokensDropped: kept.tokensDropped, codes: [...kept.codes.subarray(0, kept.codeCount)] };
      const bare = t.tokenizeHashed(text, f, false);
      assert.deepEqual(bare.tokens, []);
      assert.deepEqual({ tokenCount: bare.tokenCount, truncated: bare.truncated, tokensDropped: bare.tokensDropped, codes: [...bare.codes.subarray(0, bare.codeCount)] }, want, text);
      counted += bare.tokenCount;
    }
  }
  assert.ok(counted > 100_000);
});

test('and on random mixed text (fast-check)', () => {
  for (const [tokenize, features] of settings) {
    const paths = bothPaths(tokenize, features);
    fc.assert(fc.property(randomText, (text) => paths.check(text)), { numRuns: 300, seed: 20261205 });
  }
});

test('bad input through the one-call path: typed errors, truncation, empty vectors', () => {
  const t = createTokenizer({});
  const f = createFeaturizer({});
  for (const bad of [undefined, null, 42, { text: 'x' }]) {
    assert.throws(() => t.tokenizeHashed(bad, f), (e) => isTokrsError(e, 'TOKRS_ERR_TOKENIZE') && /text must be a string/.test(e.message));
  }
  for (const empty of ['', ' \t\n', '\u0000\u0001']) {
    const h = t.tokenizeHashed(empty, f);
    assert.equal(h.tokenCount, 0);
    assert.equal(f.featurizeCodes(h.codes, h.codeCount).indices.length, 0);
  }
  const big = '好吃'.repeat(500_000); // 1 MB of UTF-16
  const h = t.tokenizeHashed(big, f);
  assert.equal(h.truncated, true);
  assert.equal(h.tokenCount, 5_000); // maxLength 10,000 code units: 5,000 "好吃"
  const v = f.featurizeCodes(h.codes, h.codeCount);
  assert.equal(v.indices.length, 1);
  assert.ok(Math.abs(Math.abs(v.values[0]) - 1) < 1e-6);
});

test('featurizeCodes refuses codes that would break a vector: unsorted, out of range, a bad count', () => {
  const f = createFeaturizer({ bits: 4 });
  assert.throws(() => f.featurizeCodes(Uint32Array.of(6, 2), 2), (e) => isTokrsError(e, 'TOKRS_ERR_FEATURES') && /sorted/.test(e.message));
  assert.throws(() => f.featurizeCodes(Uint32Array.of(2, 32), 2), (e) => isTokrsError(e, 'TOKRS_ERR_FEATURES') && /below 32/.test(e.message));
  assert.throws(() => f.featurizeCodes(Uint32Array.of(2), 2), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT'));
  assert.deepEqual([...f.featurizeCodes(Uint32Array.of(2, 2, 3, 9), 4).indices], [1, 4]); // 2, 2 and 3 share bucket 1: +2 - 1
  // The Into form checks codes first, then the position, then room, even for a vector whose signs all
  // cancelled (codes 4 and 5: bucket 2, + and -; tokens 'a' and 'l' in 2 buckets, hashed in JavaScript).
  const [indices, values] = [new Int32Array(2), new Float32Array(2)];
  assert.throws(() => f.featurizeCodesInto(Uint32Array.of(6, 2), 2, indices, values, -1), (e) => isTokrsError(e, 'TOKRS_ERR_FEATURES'));
  assert.throws(() => f.featurizeCodesInto(Uint32Array.of(2, 6), 2, indices, values, -1), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT') && /position/.test(e.message));
  assert.throws(() => f.featurizeCodesInto(Uint32Array.of(4, 5), 2, indices, values, 99), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT') && /do not fit/.test(e.message));
  const tiny = createFeaturizer({ bits: 1, l2: false });
  const cancelled = tiny.hashTerms(['a', 'l']);
  assert.equal(tiny.featurizeCodes(cancelled.codes, cancelled.count).indices.length, 0);
  assert.throws(() => tiny.featurizeCodesInto(cancelled.codes, cancelled.count, indices, values, 99), (e) => isTokrsError(e, 'TOKRS_ERR_LIMIT') && /do not fit/.test(e.message));
  assert.equal(f.featurizeCodesInto(Uint32Array.of(4, 5), 2, indices, values, 0), 0);
});
