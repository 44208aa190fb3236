import { readFileSync } from 'node:fs';
import { configError, ERROR_CODES, TokrsError } from '../errors.js';
import { createBpeTokenizer } from './bpe.js';
import { createCharsTokenizer } from './chars.js';
import { tokenizeConfigSchema, type TokenizeConfig, type TokenizeConfigInput } from './config.js';
import { createJiebaTokenizer } from './jieba.js';
import { createNormalizer, truncate } from './normalize.js';
import type { HashedTokens, Tokenized, Tokenizer } from './tokenizer.js';
import type { Featurizer } from '../features/featurizer.js';
import { createWordsTokenizer } from './words.js';

/** The tokenize stage for one topology: normalise, cut to length, segment, filter. */
export interface TextTokenizer {
  readonly config: TokenizeConfig;
  /** The segmenter inside, for benchmarks and `describe()`. */
  readonly segmenter: Tokenizer;
  /**
   * Tokens of one message. Throws a TokrsError (TOKRS_ERR_TOKENIZE) for a non-string or a segmenter
   * failure; the operator turns that into a reject. Empty or whitespace-only text gives no tokens.
   */
  tokenize(text: unknown): Tokenized;
  /**
   * `tokenize`, and the hashed terms of its tokens under `featurizer` (`Featurizer.hashTerms`), in one step:
   * through the jieba addon's single call when it can (engine nodejieba with the addon built, no stop
   * words, dropPunctuation off), otherwise `tokenize` then `hashTerms`. The same tokens and codes either
   * way; `featurizer.featurizeCodes` turns them into the vector. Throws as `tokenize` does. With
   * `keepTokens` false the tokens may not be built (`tokens` is then empty; `tokenCount` still counts them):
   * for callers that need only counts and vectors, such as a worker whose pool ships no tokens.
   */
  tokenizeHashed(text: unknown, featurizer: Featurizer, keepTokens?: boolean): HashedTokens;
}

// Whitespace tokens (jieba emits the spaces between words) and, optionally, pure punctuation/symbol tokens.
const PUNCTUATION = /^[\p{P}\p{S}\s]+$/u;

/**
 * What `/^\s*$/u.test(token)` says, without a regex call per token (a fifth of the tokenize stage's own
 * cost on short reviews): most tokens fail on their first code unit. The code units are ECMAScript's
 * WhiteSpace and LineTerminator, which is what `\s` matches.
 */
export function isBlank(token: string): boolean {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    if (c < 0xa0) return false;
    if (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029) continue;
    if (c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff) continue;
    return false;
  }
  return true;
}

/**
 * Whether the tokenize stage drops tokens by a rule only JavaScript applies (stop words, the punctuation
 * filter): then the jieba addon only segments, and the tokens are hashed in JavaScript.
 */
export function filtersInJavaScript(config: TokenizeConfig): boolean {
  return config.dropPunctuation || config.stopWords.words.length > 0 || config.stopWords.file !== undefined;
}

/** The error for a text that is not a string (also raised by the worker pool before sending a batch). */
export function textTypeError(text: unknown): TokrsError {
  return new TokrsError(
    ERROR_CODES.TOKENIZE,
    `text must be a string, got ${text === null ? 'null' : typeof text}; check the decode stage's text field`,
  );
}

/** Parses a `tokenize` section; the message says which key is wrong and why. */
export function parseTokenizeConfig(input: unknown, where = 'tokenize'): TokenizeConfig {
  const parsed = tokenizeConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw configError(issues.join('; '));
}

/**
 * Builds the tokenize stage from plain JSON-able config (what a worker thread receives).
 *
 * @example
 * createTokenizer({ tokenizer: 'jieba' }).tokenize('今天天气不错')
 * // { tokens: ['今天天气', '不错'], tokenCount: 2, truncated: false }
 */
export function createTokenizer(input: TokenizeConfigInput | TokenizeConfig = {}): TextTokenizer {
  const config = parseTokenizeConfig(input);
  const segmenter = createSegmenter(config);
  const normalize = createNormalizer(config.normalize);
  const stopWords = loadStopWords(config, normalize);
  const drop = config.dropPunctuation ? (t: string) => PUNCTUATION.test(t) : isBlank;
  const keep = stopWords.size === 0 ? (t: string) => !drop(t) : (t: string) => !drop(t) && !stopWords.has(t);

  const tokenize = (text: unknown): Tokenized => {
    if (typeof text !== 'string') throw textTypeError(text);
    const cut = truncate(text, config.maxLength);
    const normalized = normalize(cut.text);
    let raw: string[];
    try {
      raw = segmenter.tokenize(normalized);
    } catch (error) {
      throw new TokrsError(ERROR_CODES.TOKENIZE, `${segmenter.name} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    // Usually nothing is dropped, and then the segmenter's own array (new for every call) is the result.
    let tokens = raw;
    for (let i = 0; i < raw.length; i++) {
      if (keep(raw[i])) {
        if (tokens !== raw) tokens.push(raw[i]);
      } else if (tokens === raw) tokens = raw.slice(0, i);
    }
    if (tokens.length > config.maxTokens) {
      const dropped = tokens.length - config.maxTokens;
      tokens.length = config.maxTokens; // `tokens` is ours: the segmenter's fresh array or our filtered copy
      return { tokens, tokenCount: tokens.length, truncated: true, tokensDropped: dropped };
    }
    return { tokens, tokenCount: tokens.length, truncated: cut.truncated };
  };

  const native = filtersInJavaScript(config) ? undefined : segmenter.native;
  const maxTokens = Math.min(config.maxTokens, 0xffffffff);
  const tokenizeHashed =
    native === undefined
      ? (text: unknown, featurizer: Featurizer): HashedTokens => {
          const { tokens, tokenCount, truncated, tokensDropped } = tokenize(text);
          const { codes, count } = featurizer.hashTerms(tokens);
          // Fields listed, not spread: a spread followed by properties costs ~650 ns a property on Node 20 (bench/record-copy.ts).
          if (tokensDropped !== undefined) return { tokens, tokenCount, truncated, tokensDropped, codes, codeCount: count };
          return { tokens, tokenCount, truncated, codes, codeCount: count };
        }
      : (text: unknown, featurizer: Featurizer, keepTokens = true): HashedTokens => {
          if (typeof text !== 'string') throw textTypeError(text);
          const cut = truncate(text, config.maxLength);
          let analysis;
          try {
            analysis = native.analyze(normalize(cut.text), maxTokens, featurizer.config, keepTokens);
          } catch (error) {
            throw new TokrsError(ERROR_CODES.TOKENIZE, `${segmenter.name} failed: ${(error as Error).message}`, { cause: error });
          }
          const { tokens, tokenCount, tokensDropped, codes, codeCount } = analysis;
          if (tokensDropped > 0) return { tokens, tokenCount, truncated: true, tokensDropped, codes, codeCount };
          return { tokens, tokenCount, truncated: cut.truncated, codes, codeCount };
        };
  return { config, segmenter, tokenize, tokenizeHashed };
}

function createSegmenter(config: TokenizeConfig): Tokenizer {
  switch (config.tokenizer) {
    case 'jieba':
      return createJiebaTokenizer(config.jieba);
    case 'bpe':
      return createBpeTokenizer(config.bpe);
    case 'chars':
      return createCharsTokenizer(config.chars.n);
    case 'words':
      return createWordsTokenizer(config.words.locale);
  }
}

function loadStopWords(config: TokenizeConfig, normalize: (text: string) => string): Set<string> {
  const words = [...config.stopWords.words];
  if (config.stopWords.file !== undefined) {
    try {
      words.push(...readFileSync(config.stopWords.file, 'utf8').split(/\r?\n/));
    } catch (error) {
      throw configError(`tokenize.stopWords.file: cannot read ${config.stopWords.file} (${(error as Error).message})`);
    }
  }
  // Normalised like the text, so "ＡＢＣ" in the list still removes "abc".
  return new Set(words.map((w) => normalize(w.trim())).filter((w) => w.length > 0));
}
