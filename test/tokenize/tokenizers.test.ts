import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTokrsError } from '../../src/errors.js';
import { loadBpeEncoder } from '../../src/tokenize/bpe.js';
import { createTokenizer, parseTokenizeConfig } from '../../src/tokenize/create-tokenizer.js';
import { joinAsciiRuns } from '../../src/tokenize/jieba.js';
import { createNormalizer, truncate } from '../../src/tokenize/normalize.js';

const tokens = (config: Parameters<typeof createTokenizer>[0], text: string) => createTokenizer(config).tokenize(text).tokens;

test('jieba (nodejieba) segments known sentences; HMM is an explicit choice', () => {
  assert.deepEqual(tokens({}, '我来到北京清华大学'), ['我', '来到', '北京', '清华大学']);
  // The jieba README's example of HMM finding the unknown word 杭研.
  assert.deepEqual(tokens({ jieba: { hmm: false } }, '他来到了网易杭研大厦'), ['他', '来到', '了', '网易', '杭', '研', '大厦']);
  assert.deepEqual(tokens({ jieba: { hmm: true } }, '他来到了网易杭研大厦'), ['他', '来到', '了', '网易', '杭研', '大厦']);
  assert.deepEqual(tokens({ jieba: { mode: 'search' } }, '小明硕士毕业于中国科学院计算所'), [
    '小', '明', '硕士', '毕业', '于', '中国', '科学', '学院', '科学院', '中国科学院', '计算', '计算所',
  ]);
  assert.deepEqual(tokens({ jieba: { mode: 'full' } }, '南京市长江大桥'), ['南京', '南京市', '京市', '市长', '长江', '长江大桥', '大桥']);
});

test('jieba default config keeps punctuation but drops spaces, lower-cases and keeps Latin words whole', () => {
  assert.deepEqual(tokens({}, '外卖送得很快，味道不错 iPhone13 OK'), ['外卖', '送', '得', '很快', ',', '味道', '不错', 'iphone13', 'ok']);
  assert.deepEqual(joinAsciiRuns(['h', 'i', '好', '1', '2', 'ab', 'c']), ['hi', '好', '12', 'ab', 'c']);
});

test('@node-rs/jieba agrees with nodejieba on the known sentences', () => {
  for (const text of ['我来到北京清华大学', '他来到了网易杭研大厦', '外卖送得很快，味道不错 iPhone13 OK']) {
    for (const hmm of [false, true]) {
      assert.deepEqual(tokens({ jieba: { engine: 'node-rs', hmm } }, text), tokens({ jieba: { hmm } }, text), `${text} hmm=${hmm}`);
    }
  }
  // A documented difference: full mode (cut_all) also emits single characters in jieba-rs.
  assert.deepEqual(tokens({ jieba: { engine: 'node-rs', mode: 'full' } }, '长江大桥'), ['长', '长江', '长江大桥', '江', '大', '大桥', '桥']);
});

test('a user dictionary adds words (node-rs engine; nodejieba keeps one per process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokrs-'));
  const dict = join(dir, 'user.dict');
  writeFileSync(dict, '杭研大厦 100 n\n');
  assert.deepEqual(tokens({ jieba: { engine: 'node-rs', userDict: dict } }, '他来到了网易杭研大厦'), ['他', '来到', '了', '网易', '杭研大厦']);
  createTokenizer({});
  assert.throws(() => createTokenizer({ jieba: { userDict: dict } }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG') && /userDict/.test(e.message));
});

test('stop words (inline and file) and dropPunctuation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokrs-'));
  const file = join(dir, 'stop.txt');
  writeFileSync(file, '了\n的\n');
  const config = { stopWords: { words: ['我'], file }, dropPunctuation: true };
  assert.deepEqual(tokens(config, '我的外卖来了！'), ['外卖', '来']);
});

test('bpe gives the published o200k_base / cl100k_base ids, the same with all three libraries', () => {
  assert.deepEqual([...loadBpeEncoder('tiktoken', 'o200k_base')('hello world')], [24912, 2375]);
  assert.deepEqual([...loadBpeEncoder('tiktoken', 'cl100k_base')('hello world')], [15339, 1917]);
  const texts = ['味道不错，送餐很快！', 'The QUICK brown 🦊 <|endoftext|> 12345', '這家餐廳'];
  for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
    const reference = loadBpeEncoder('tiktoken', encoding);
    for (const library of ['js-tiktoken', 'gpt-tokenizer'] as const) {
      const other = loadBpeEncoder(library, encoding);
      for (const t of texts) assert.deepEqual([...other(t)], [...reference(t)], `${library} ${encoding} ${t}`);
    }
  }
  // Partial-character tokens are written as U+FFFD + id, so they stay distinct and library-independent.
  const bpe = tokens({ tokenizer: 'bpe', normalize: { lowercase: false } }, 'hello world 味道不错');
  assert.deepEqual(bpe.slice(0, 2), ['hello', ' world']);
  assert.equal(bpe.join('').replace(/\ufffd\d+/g, '').length > 0, true);
  assert.deepEqual(tokens({ tokenizer: 'bpe', bpe: { library: 'gpt-tokenizer' } }, '餐廳 🦊'), tokens({ tokenizer: 'bpe' }, '餐廳 🦊'));
});

test('chars n-grams and Intl.Segmenter words', () => {
  assert.deepEqual(tokens({ tokenizer: 'chars', chars: { n: 2 } }, '好吃 快'), ['好', '吃', '好吃', '快']);
  assert.deepEqual(tokens({ tokenizer: 'chars', chars: { n: 1 } }, '😀a'), ['😀', 'a']);
  assert.deepEqual(tokens({ tokenizer: 'words' }, "Don't stop, 2 times!"), ["don't", 'stop', '2', 'times']);
});

test('normalisation: NFKC, full-width, lower case, traditional → simplified, controls, lone surrogates', () => {
  const n = createNormalizer(parseTokenizeConfig({}).normalize);
  assert.equal(n('ＡＢＣ！１２　x'), 'abc!12 x');
  assert.equal(n('ﬁ①'), 'fi1');
  assert.equal(n('a\u0000b\u0007c\u200bd\ufeff'), 'a b c d ');
  assert.equal(n('a\ud800b\udc00'), 'a\ufffdb\ufffd');
  assert.equal(n('😀'), '😀');
  const t2s = createNormalizer(parseTokenizeConfig({ normalize: { traditionalToSimplified: true } }).normalize);
  assert.equal(t2s('這家餐廳的服務很好'), '这家餐厅的服务很好');
  assert.deepEqual(truncate('ab😀', 3), { text: 'ab', truncated: true });
  assert.deepEqual(truncate('ab😀', 4), { text: 'ab😀', truncated: false });
});

test('bad tokenize config is a TOKRS_ERR_CONFIG error naming the key', () => {
  assert.throws(() => parseTokenizeConfig({ tokenizer: 'spacy' }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG') && /tokenize\.tokenizer/.test(e.message));
  assert.throws(() => parseTokenizeConfig({ maxLength: -3 }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG') && /maxLength/.test(e.message));
  assert.throws(() => createTokenizer({ jieba: { engine: 'node-rs', mode: 'hmm' } }), (e) => isTokrsError(e, 'TOKRS_ERR_CONFIG'));
  const defaults = parseTokenizeConfig({});
  assert.equal(defaults.tokenizer, 'jieba');
  assert.equal(defaults.jieba.engine, 'nodejieba');
  assert.equal(defaults.jieba.hmm, false);
});
