/**
 * Fuzzing the tokenize stage (normalise, cut, segment, filter) of every tokenizer with strings that break
 * naive code: lone surrogates, controls, NUL, combining marks, astral characters, huge inputs. Each call
 * returns non-blank string tokens (tokenCount = tokens.length) or throws a TokrsError; never hangs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBounded, loadBpeEncoder } from '../../src/tokenize/bpe.js';
import { createTokenizer, isBlank, type TextTokenizer } from '../../src/tokenize/create-tokenizer.js';
import type { TokenizeConfigInput } from '../../src/tokenize/config.js';
import { runs, typedOrOk } from './support.js';

const configs: Record<string, TokenizeConfigInput> = {
  'jieba/nodejieba': { tokenizer: 'jieba' },
  'jieba/nodejieba/search+hmm': { tokenizer: 'jieba', jieba: { mode: 'search', hmm: true } },
  'jieba/node-rs': { tokenizer: 'jieba', jieba: { engine: 'node-rs' } },
  'bpe/gpt-tokenizer': { tokenizer: 'bpe' },
  'bpe/tiktoken': { tokenizer: 'bpe', bpe: { library: 'tiktoken', encoding: 'cl100k_base' } },
  'chars/3': { tokenizer: 'chars', chars: { n: 3 } },
  'words/zh': { tokenizer: 'words', words: { locale: 'zh' } },
};

/** Pieces that are hard on normalisers and segmenters; strings are drawn as sequences of them. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom('很快', '好吃', '味道足', '量大', '不错', 'iPhone15', '１２３ＡＢＣ', '，。！？', '😀👍🏻', '\u200b', '\ufeff') },
  { weight: 2, arbitrary: fc.constantFrom('\ud800', '\udfff', '\ud83d', '\u0000', '\u0007', '\u001b[31m', '\r\n', '\t', '\u2028', '\u0301', '\u1100\u1161', 'Σ', 'ﬁ', '\u3000') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((cu) => String.fromCharCode(cu)) },
);
const nasty = fc.array(piece, { maxLength: 24 }).map((parts) => parts.join(''));

function checkTokens(tokenizer: TextTokenizer, text: unknown, maxMs: number): void {
  let out: ReturnType<TextTokenizer['tokenize']> | undefined;
  typedOrOk(() => (out = tokenizer.tokenize(text)), maxMs);
  if (out === undefined) return;
  assert.ok(Array.isArray(out.tokens));
  assert.equal(out.tokenCount, out.tokens.length);
  for (const t of out.tokens) {
    assert.equal(typeof t, 'string');
    assert.ok(!isBlank(t), `blank token ${JSON.stringify(t)}`);
  }
}

describe('fuzz: tokenizers', () => {
  const built = new Map<string, TextTokenizer>();
  const get = (name: string): TextTokenizer => {
    let t = built.get(name);
    if (t === undefined) built.set(name, (t = createTokenizer(configs[name])));
    return t;
  };

  for (const name of Object.keys(configs)) {
    it(`${name}: random strings with surrogates, controls and marks`, () => {
      const tokenizer = get(name);
      fc.assert(fc.property(nasty, (text) => checkTokens(tokenizer, text, 500)), runs(400));
    });
  }

  it('every tokenizer: non-strings are TOKRS_ERR_TOKENIZE, not a TypeError', () => {
    for (const name of Object.keys(configs)) {
      const tokenizer = get(name);
      for (const value of [undefined, null, 42, {}, [], Buffer.from('x'), Symbol('s')]) {
        assert.equal(typedOrOk(() => tokenizer.tokenize(value), 100), 'TOKRS_ERR_TOKENIZE', `${name} ${String(value)}`);
      }
    }
  });

  it('bpe: long texts encoded in pieces give the ids of one call when cut at spaces', () => {
    const encode = loadBpeEncoder('gpt-tokenizer', 'o200k_base');
    const word = fc.oneof(fc.constantFrom('很快', '好吃', 'hello', "don't", '123', '！', '😀'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }).filter((w) => !/\s/.test(w)));
    fc.assert(
      fc.property(fc.array(word, { minLength: 600, maxLength: 1500 }), (words) => {
        const text = words.join(' ');
        assert.deepEqual([...encodeBounded(encode, text)], [...encode(text)]);
      }),
      runs(15),
    );
  });

  it('every tokenizer: huge inputs are cut to maxLength and stay fast', () => {
    const huge = [
      '很快好吃'.repeat(300_000),
      'a'.repeat(1_200_000),
      '\ud800'.repeat(200_000),
      '😀'.repeat(200_000) + '\ud83d',
      ' '.repeat(1_000_000),
      '\u0301'.repeat(200_000),
    ];
    for (const name of Object.keys(configs)) {
      const tokenizer = get(name);
      for (const text of huge) {
        const out = tokenizer.tokenize(text);
        assert.equal(out.truncated, true, name);
      }
    }
    // And with a generous maxLength, one megabyte of text still finishes in seconds.
    for (const name of ['jieba/nodejieba', 'bpe/gpt-tokenizer', 'chars/3', 'words/zh']) {
      const tokenizer = createTokenizer({ ...configs[name], maxLength: 1_000_000 });
      checkTokens(tokenizer, '外卖很快，味道不错！😀 '.repeat(40_000), 5_000);
      checkTokens(tokenizer, '外卖很快味道不错'.repeat(40_000), 5_000); // no whitespace at all
    }
  });
});
