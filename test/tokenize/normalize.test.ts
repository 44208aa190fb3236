import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseTokenizeConfig } from '../../src/tokenize/create-tokenizer.js';
import { isBlank } from '../../src/tokenize/create-tokenizer.js';
import { createNormalizer, createReferenceNormalizer, NOT_LOCAL } from '../../src/tokenize/normalize.js';
import type { NormalizeConfig } from '../../src/tokenize/config.js';
import { readReviews, WAIMAI } from '../support/data.js';

// Every combination of the three per-character options (traditional → simplified always takes the reference path).
const CONFIGS: NormalizeConfig[] = [];
for (const nfkc of [true, false])
  for (const fullwidth of [true, false])
    for (const lowercase of [true, false]) CONFIGS.push(parseTokenizeConfig({ normalize: { nfkc, fullwidth, lowercase } }).normalize);
const name = (c: NormalizeConfig) => `nfkc=${c.nfkc} fullwidth=${c.fullwidth} lowercase=${c.lowercase}`;
const show = (s: string) => JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

test('the fast path gives the reference result on all 11,983 waimai texts, under every option combination', () => {
  const texts = readReviews(WAIMAI).map((r) => r.text);
  assert.equal(texts.length, 11_983);
  for (const config of CONFIGS) {
    const fast = createNormalizer(config);
    const reference = createReferenceNormalizer(config);
    for (const text of texts) assert.equal(fast(text), reference(text), `${name(config)} ${text}`);
    // Twice: the second pass reads the lazily filled table instead of filling it.
    for (const text of texts) assert.equal(fast(text), reference(text), `${name(config)} ${text}`);
  }
});

const TRICKY = [
  '',
  'ＡＢＣ！１２　ｘ，。？～',
  'HELLO World ÀÉÎ Straße İstanbul',
  'ΟΔΟΣ ΣΑΣ Σ', // capital sigma: final form depends on the neighbours
  'a\u0000b\u0007c\u001b[31m\u007f\u0085\u009f\u200b\u200c\u200d\u2060\ufeffd',
  '好\ud800吃\udc00', // lone surrogates
  '\udbff',
  '\udc00\ud800',
  'e\u0301 e\u0301\u0316 a\u0316\u0301 ç\u0327', // combining marks: composition and reordering
  'Ａ\u0301 ｅ\u0301', // a full-width letter that composes once half-width
  '가\u11a8 \u1100\u1161\u11a8 가ㄳ ㅎㅎ', // Hangul jamo and compatibility jamo
  'ﬁ ① ㈱ ½ ™ … ‥ ㍿ ｶﾞ ﾊﾟ', // compatibility forms, half-width katakana + voiced marks
  '😀😀 ❤️ 👍🏻 1️⃣ 🇨🇳', // emoji, variation selector, keycap, flags
  '𝐀𝐁𝐂 𝔘𝔫𝔦 𐐀', // mathematical alphanumerics (NFKC to ASCII), Deseret capital (lower-cases)
  '\u{2f800}\u{20000}\u{16d63}\u{16d67}', // CJK compatibility ideograph, extension B, Kirat Rai
  '這家餐廳的服務很好 ﹏ ︶ ︿ ￣ ‾ ´',
  'x'.repeat(5000) + 'Ａ',
];

test('the fast path gives the reference result on tricky inputs', () => {
  for (const config of CONFIGS) {
    const fast = createNormalizer(config);
    const reference = createReferenceNormalizer(config);
    for (const text of TRICKY) assert.equal(fast(text), reference(text), `${name(config)} ${show(text)}`);
  }
});

test('the fast path gives the reference result for every BMP code unit, alone and between neighbours that compose', () => {
  const config = CONFIGS[0];
  const fast = createNormalizer(config);
  const reference = createReferenceNormalizer(config);
  const contexts: [string, string][] = [['', ''], ['Ａb', 'C，'], ['e', '\u0301'], ['\u1100', '\u1161'], ['가', '\u11a8'], ['\ud83d', '\ude00']];
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    for (const [before, after] of contexts) {
      const text = before + ch + after;
      if (fast(text) !== reference(text)) assert.fail(`${show(text)}: ${show(fast(text))} !== ${show(reference(text))}`);
    }
  }
});

test('the fast path gives the reference result on random mixes of hard characters (property)', () => {
  const units = [
    'a', 'Z', ' ', '\u0000', '\u0085', '\u200b', 'Ａ', '！', '\u3000', '好', '，', '…', 'ﬁ', '①', 'Σ', 'ς', 'İ', 'é',
    '\u0301', '\u0316', '\u1100', '\u1161', '\u11a8', '가', 'ㄳ', 'ｶ', 'ﾞ', '\ud800', '\udc00', '\ud83d\ude00', '\ufe0f',
    '\u{1d400}', '\u{2f800}', '\u{10400}',
  ];
  const text = fc.array(fc.constantFrom(...units), { maxLength: 24 }).map((parts) => parts.join(''));
  for (const config of CONFIGS) {
    const fast = createNormalizer(config);
    const reference = createReferenceNormalizer(config);
    fc.assert(fc.property(text, (t) => fast(t) === reference(t)), { numRuns: 2000, seed: 20240601 });
  }
});

test('the fast path gives the reference result on random mixes of characters it rebuilds itself (property)', () => {
  // Only characters the table keeps or replaces, so every generated text takes the fast path.
  const units = ['a', 'Z', ' ', '\u0000', '\u200b', 'Ａ', '！', '\u3000', '好', '，', '…', 'ﬁ', '①', 'ς', 'é', 'ｶ', '가', '\ud83d\ude00', '\u{2f800}'];
  const text = fc.array(fc.constantFrom(...units), { maxLength: 24 }).map((parts) => parts.join(''));
  for (const config of CONFIGS) {
    const fast = createNormalizer(config);
    const reference = createReferenceNormalizer(config);
    fc.assert(fc.property(text, (t) => fast(t) === reference(t)), { numRuns: 2000, seed: 7 });
  }
});

test("the fast path's Unicode assumption holds for this runtime: outside NOT_LOCAL, no BMP character composes or reorders", () => {
  // A character that NFKC can compose with the one before it appears after the first position of some
  // character's canonical decomposition; one that canonical ordering can move has a non-zero combining class
  // (detected by moving U+0334, combining class 1, in front of it).
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const decomposition = [...String.fromCodePoint(cp).normalize('NFD')];
    for (const part of decomposition.slice(1)) {
      const p = part.codePointAt(0) as number;
      if (p < 0x10000) assert.ok(NOT_LOCAL.test(part), `U+${p.toString(16)} (in U+${cp.toString(16)}) must be in NOT_LOCAL`);
    }
  }
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const ch = String.fromCharCode(c);
    if (NOT_LOCAL.test(ch) || ch.normalize('NFD') !== ch) continue;
    assert.equal(`a${ch}\u0334`.normalize('NFD'), `a${ch}\u0334`, `U+${c.toString(16)} has a combining class but is not in NOT_LOCAL`);
  }
});

test('isBlank is /^\\s*$/u without the regex', () => {
  const blank = /^\s*$/u;
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(isBlank(ch), blank.test(ch), `U+${c.toString(16)}`);
    assert.equal(isBlank(` ${ch}\u3000`), blank.test(` ${ch}\u3000`), `U+${c.toString(16)} between spaces`);
  }
  assert.equal(isBlank(''), true);
  assert.equal(isBlank('\ud83d\ude00'), false);
});
