import { createRequire } from 'node:module';
import type { FeaturesConfig } from '../features/config.js';

const require = createRequire(import.meta.url);

/**
 * tokrs's binding of cppjieba, the segmenter inside nodejieba (native/jieba/tokrs_jieba.cc): the same
 * headers and dictionaries as the installed nodejieba package, compiled by `npm install` (the package's
 * `install` script). One call segments a normalised text and, for the tokenize stage, also does what
 * the JavaScript path does after `nodejieba.cut`: joins single-character ASCII runs (`joinAsciiRuns`),
 * drops blank tokens (`isBlank`), cuts to maxTokens, and hashes every token and bigram into sorted feature
 * codes (`Featurizer.featurizeCodes`). Tokens come back as one string joined by U+0000, split here: one
 * string instead of a napi string per token. test/tokenize/native-jieba.test.ts checks every step against
 * the JavaScript path and nodejieba itself.
 */
interface Binding {
  load(dict: string, hmmModel: string, userDict: string, idf: string, stopWords: string): void;
  analyze(
    text: string,
    utf16Length: number,
    flags: number,
    maxTokens: number,
    seed: number,
    signSeed: number,
    mask: number,
    codes: Uint32Array,
    info: Int32Array,
  ): string;
  copyCodes(codes: Uint32Array, expectedCount: number): void;
}

const MODE = { mix: 0, search: 1, full: 2, hmm: 3 } as const;
const HMM = 4;
const JOIN_ASCII = 8;
const SIGNED = 16;
const BIGRAMS = 32;
const SEGMENT_ONLY = 64;
const COUNT_ONLY = 128;

/** Where the built addon is; `npm install` runs `node-gyp rebuild` in native/jieba. */
const ADDON = '../../native/jieba/build/Release/tokrs_jieba.node';

let binding: Binding | null | undefined;
let bindingError: string | undefined;

/**
 * The addon, loaded once per thread; undefined when it was not built (install scripts skipped, no
 * compiler), in which case the nodejieba engine uses nodejieba's own binding. `nativeJiebaStatus` says why.
 */
function loadBinding(): Binding | undefined {
  if (binding === undefined) {
    try {
      binding = require(ADDON) as Binding;
    } catch (error) {
      binding = null;
      bindingError = (error as Error).message.split('\n')[0];
    }
  }
  return binding ?? undefined;
}

/** Whether the addon is in use, and if not, the error that loading it gave (for `describe` and the tests). */
export function nativeJiebaStatus(): { loaded: boolean; error?: string } {
  loadBinding();
  return binding ? { loaded: true } : { loaded: false, error: bindingError };
}

/** The dictionary files nodejieba's `load()` takes, as the paths nodejieba itself exports. */
export interface JiebaDictionaries {
  readonly dict: string;
  readonly hmmModel: string;
  readonly userDict: string;
  readonly idf: string;
  readonly stopWords: string;
}

/** Hashing settings of the features stage, as the addon needs them (see `Featurizer.featurizeCodes`). */
export type NativeHashing = Pick<FeaturesConfig, 'seed' | 'signSeed' | 'signed' | 'bigrams'> & { readonly bits: number };

/** The tokenize stage's result through the addon: tokens, and the sorted codes of their hashed terms. */
export interface NativeAnalysis {
  readonly tokens: string[];
  readonly tokenCount: number;
  readonly tokensDropped: number;
  /** Sorted term codes in `codes[0..codeCount)`; the array is reused by the next call. */
  readonly codes: Uint32Array;
  readonly codeCount: number;
}

export interface NativeJieba {
  /**
   * nodejieba's `cut`/`cutForSearch`/`cutAll`/`cutHMM` for the mode, plus `joinAsciiRuns` when `join`, of
   * normalised text: tokens cross as one string joined by U+0000, which normalisation turns into a space.
   */
  segment(text: string): string[];
  /**
   * Segment, join, drop blank tokens, keep at most `maxTokens`, hash: what the JavaScript tokenize +
   * featurize path does after normalising. Without `keepTokens`, `tokens` is empty and `tokenCount` counts
   * them (no strings cross into JavaScript).
   */
  analyze(text: string, maxTokens: number, hashing: NativeHashing, keepTokens: boolean): NativeAnalysis;
}

/**
 * A segmenter on the addon for one jieba mode, or undefined without the addon. Each thread has one
 * cppjieba instance (the addon keeps it per thread), loaded from `dictionaries` by the first call.
 */
export function createNativeJieba(dictionaries: JiebaDictionaries, mode: keyof typeof MODE, hmm: boolean, join: boolean): NativeJieba | undefined {
  const addon = loadBinding();
  if (addon === undefined) return undefined;
  loadDictionaries(addon, dictionaries);
  const base = MODE[mode] | (hmm ? HMM : 0) | (join ? JOIN_ASCII : 0);
  const info = new Int32Array(3);
  let codes = new Uint32Array(256);
  const split = (joined: string, count: number): string[] => (count === 0 ? [] : joined.split('\u0000'));
  return {
    segment: (text) => split(addon.analyze(text, text.length, base | SEGMENT_ONLY, 0, 0, 0, 0, codes, info), info[0]),
    analyze: (text, maxTokens, hashing, keepTokens) => {
      const flags = base | (hashing.signed ? SIGNED : 0) | (hashing.bigrams ? BIGRAMS : 0) | (keepTokens ? 0 : COUNT_ONLY);
      const mask = 2 ** hashing.bits - 1;
      const joined = addon.analyze(text, text.length, flags, maxTokens, hashing.seed, hashing.signSeed, mask, codes, info);
      const codeCount = info[1];
      if (codeCount > codes.length) {
        // More codes than ever before (search and full modes emit overlapping words, so even the text's
        // length is no bound): grow, and fetch them from the addon, which kept them.
        codes = new Uint32Array(Math.max(codeCount, 2 * codes.length));
        addon.copyCodes(codes, codeCount);
      }
      return { tokens: keepTokens ? split(joined, info[0]) : [], tokenCount: info[0], tokensDropped: info[2], codes, codeCount };
    },
  };
}

let loaded: string | undefined;

function loadDictionaries(addon: Binding, d: JiebaDictionaries): void {
  const key = JSON.stringify(d);
  if (loaded === key) return;
  addon.load(d.dict, d.hmmModel, d.userDict, d.idf, d.stopWords);
  loaded = key;
}
