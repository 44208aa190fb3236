import { readFileSync } from 'node:fs';
import { configError, ERROR_CODES, TokrsError } from '../errors.js';
import { createBpeTokenizer } from './bpe.js';
import { createCharsTokenizer } from './chars.js';
import { tokenizeConfigSchema, type TokenizeConfig, type TokenizeConfigInput } from './config.js';
import { createJiebaTokenizer } from './jieba.js';
import { createNormalizer, truncate } from './normalize.js';
import type { Tokenized, Tokenizer } from './tokenizer.js';
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
}

// Whitespace tokens (jieba emits the spaces between words) and, optionally, pure punctuation/symbol tokens.
const BLANK = /^\s*$/u;
const PUNCTUATION = /^[\p{P}\p{S}\s]+$/u;

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
  const drop = config.dropPunctuation ? PUNCTUATION : BLANK;

  const tokenize = (text: unknown): Tokenized => {
    if (typeof text !== 'string') {
      throw new TokrsError(
        ERROR_CODES.TOKENIZE,
        `text must be a string, got ${text === null ? 'null' : typeof text}; check the decode stage's text field`,
      );
    }
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
    const tokens: string[] = [];
    for (const t of raw) if (!drop.test(t) && !stopWords.has(t)) tokens.push(t);
    return { tokens, tokenCount: tokens.length, truncated: cut.truncated };
  };
  return { config, segmenter, tokenize };
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
