import type { NativeJieba } from './native-jieba.js';

/**
 * A segmenter: text in, tokens out. Implementations (jieba, bpe, chars, words) see text that is already
 * normalised and cut to length; `createTokenizer` wraps one with normalisation, truncation and filters.
 */
export interface Tokenizer {
  /** For logs and metrics, e.g. "jieba/nodejieba". */
  readonly name: string;
  /** A new array on every call: the caller owns it (the tokenize stage returns it as is when it drops nothing). */
  tokenize(text: string): string[];
  /** The number of tokens `tokenize` would give; cheaper for BPE, which need not build the strings. */
  countTokens(text: string): number;
  /** The jieba addon's one-call tokenize + hash, when this segmenter runs on it (native-jieba.ts). */
  readonly native?: NativeJieba;
}

/** What the tokenize stage gives for one text. */
export interface Tokenized {
  readonly tokens: string[];
  readonly tokenCount: number;
  /** True when the text was longer than `maxLength` and was cut, or it had more than `maxTokens` tokens. */
  readonly truncated: boolean;
  /** Tokens dropped beyond `maxTokens` (absent when none were). */
  readonly tokensDropped?: number;
}

/** `Tokenized` plus the sorted codes of the message's hashed terms, as `Featurizer.featurizeCodes` reads them. */
export interface HashedTokens extends Tokenized {
  /** `codes[0..codeCount)`; the array is reused by the next call. */
  readonly codes: Uint32Array;
  readonly codeCount: number;
}
