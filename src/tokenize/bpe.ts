import { createRequire } from 'node:module';
import type { BpeConfig } from './config.js';
import type { Tokenizer } from './tokenizer.js';

const require = createRequire(import.meta.url);

/** Token ids of `text` as ordinary text: "<|endoftext|>" in a message is just characters, never a special token. */
export type BpeEncode = (text: string) => ArrayLike<number> & Iterable<number>;

/**
 * The three encoders that ship their ranks in the npm package. Loaded lazily with `require`: each costs
 * 0.1–1 s and tens of MB, and a topology uses one.
 */
export function loadBpeEncoder(library: BpeConfig['library'], encoding: BpeConfig['encoding']): BpeEncode {
  if (library === 'tiktoken') {
    const { get_encoding } = require('tiktoken') as typeof import('tiktoken');
    const enc = get_encoding(encoding);
    return (text) => enc.encode_ordinary(text);
  }
  if (library === 'js-tiktoken') {
    const { Tiktoken } = require('js-tiktoken/lite') as typeof import('js-tiktoken/lite');
    // The CommonJS build of the ranks exports the object itself, the ESM build has it as `default`.
    type Ranks = import('js-tiktoken/lite').TiktokenBPE;
    const ranksModule = require(`js-tiktoken/ranks/${encoding}`) as Ranks & { default?: Ranks };
    const ranks = ranksModule.default ?? ranksModule;
    const enc = new Tiktoken(ranks);
    return (text) => enc.encode(text, [], []);
  }
  const api =
    encoding === 'o200k_base'
      ? (require('gpt-tokenizer/cjs/encoding/o200k_base') as typeof import('gpt-tokenizer/encoding/o200k_base'))
      : (require('gpt-tokenizer/cjs/encoding/cl100k_base') as typeof import('gpt-tokenizer/encoding/cl100k_base'));
  const none = new Set<string>();
  return (text) => api.encode(text, { disallowedSpecial: none });
}

/**
 * Longest text encoded in one call. BPE merging is quadratic in the length of a pre-token, and a run of
 * Chinese without spaces is one pre-token: 16k characters took 1.1 s, 64k characters 22 s (found by
 * test/fuzz/tokenizers). Longer texts are encoded in pieces, cut before a single space between two
 * non-spaces (a pre-token boundary of both encodings, so the ids are the same as in one call) or, in a
 * run with no such space, after CHUNK code units (ids may then differ from tiktoken's next to the cut).
 */
const CHUNK = 2048;

const isSpaceAt = (text: string, i: number): boolean => /\s/.test(text[i] ?? '');

export function encodeBounded(encode: BpeEncode, text: string): ArrayLike<number> & Iterable<number> {
  if (text.length <= CHUNK) return encode(text);
  const ids: number[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + CHUNK, text.length);
    if (end < text.length) {
      let cut = end;
      while (cut > start + CHUNK / 2 && !(text[cut] === ' ' && !isSpaceAt(text, cut - 1) && !isSpaceAt(text, cut + 1))) cut--;
      if (cut > start + CHUNK / 2) end = cut;
      else if (text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) <= 0xdbff) end--;
    }
    for (const id of encode(text.slice(start, end))) ids.push(id);
    start = end;
  }
  return ids;
}

/**
 * LLM subword tokens. The token string is the text of the token; a token that is only part of a UTF-8
 * character (common for Chinese: one character is 3 bytes, often split over 2 tokens) has no text of its
 * own and is written "\uFFFD" + its id. No real piece can look like that: the encodings' split pattern
 * keeps digits apart from other characters. Pieces come from tiktoken's per-token bytes, whatever
 * library encodes, so the strings (and hence the hashes) do not depend on the library.
 *
 * @example
 * createBpeTokenizer({ encoding: 'o200k_base', library: 'tiktoken' }).tokenize('hello world') // ['hello', ' world']
 */
export function createBpeTokenizer(config: BpeConfig): Tokenizer {
  const encode = loadBpeEncoder(config.library, config.encoding);
  const { get_encoding } = require('tiktoken') as typeof import('tiktoken');
  const vocabulary = get_encoding(config.encoding);
  const decoder = new TextDecoder();
  const pieces = new Map<number, string>();
  const piece = (id: number): string => {
    let p = pieces.get(id);
    if (p === undefined) {
      const text = decoder.decode(vocabulary.decode_single_token_bytes(id));
      p = text.includes('\ufffd') ? `\ufffd${id}` : text;
      pieces.set(id, p);
    }
    return p;
  };
  const tokenize = (text: string): string[] => {
    const ids = encodeBounded(encode, text);
    const tokens = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) tokens[i] = piece(ids[i]);
    return tokens;
  };
  return {
    name: `bpe/${config.encoding}/${config.library}`,
    tokenize,
    countTokens: (text) => encodeBounded(encode, text).length,
  };
}
