import { z } from 'zod';

/** Texts are cut to this many UTF-16 code units by default: a long review is ~500; a 1 MB message is an accident. */
export const DEFAULT_MAX_LENGTH = 10_000;

/** What `Intl.Segmenter` accepts as a locale: a well-formed BCP 47 tag (it throws a RangeError otherwise). */
function isLocale(tag: string): boolean {
  try {
    Intl.getCanonicalLocales(tag);
    return true;
  } catch {
    return false;
  }
}

const normalizeSchema = z.strictObject({
  /** Unicode NFKC: folds compatibility forms (ligatures, circled digits, full-width letters) to one spelling. */
  nfkc: z.boolean().default(true),
  /** Full-width ASCII (U+FF01..U+FF5E) and the ideographic space to half-width; cheap even with nfkc off. */
  fullwidth: z.boolean().default(true),
  lowercase: z.boolean().default(true),
  /** Traditional → simplified Chinese with opencc-js (Taiwan standard → mainland). Slow; off by default. */
  traditionalToSimplified: z.boolean().default(false),
});

const jiebaSchema = z.strictObject({
  /** nodejieba (cppjieba) is the reference; @node-rs/jieba (jieba-rs) is faster and segments a little differently. */
  engine: z.enum(['nodejieba', 'node-rs']).default('nodejieba'),
  /**
   * mix: dictionary max-probability segmentation (plus HMM for unknown words when `hmm` is on);
   * search: mix, then also emits the dictionary words inside long words (cut_for_search);
   * full: every dictionary word found (cut_all), overlapping;
   * hmm: the HMM alone (nodejieba only).
   */
  mode: z.enum(['mix', 'search', 'full', 'hmm']).default('mix'),
  /**
   * HMM discovery of unknown words. Both libraries' `cut` run without it unless asked (jieba-wasm and Python
   * jieba run with it), so it is spelled out here; off keeps unknown words split into single characters,
   * which is stable and what the hashing trick learns from well.
   */
  hmm: z.boolean().default(false),
  /** A user dictionary file, one `word [freq] [tag]` per line, added to the default dictionary. */
  userDict: z.string().min(1).optional(),
  /**
   * How the nodejieba engine reaches cppjieba. `addon`: tokrs's own binding (native/jieba, compiled by npm
   * install from nodejieba's sources and dictionaries), which also joins, filters and hashes in the same
   * call; `nodejieba`: nodejieba's binding, tokens hashed in JavaScript; `auto`: the addon when it was
   * built. Both give the same tokens and vectors (tested); the addon is faster (bench/tokenize.ts).
   */
  binding: z.enum(['auto', 'addon', 'nodejieba']).default('auto'),
});

const bpeSchema = z.strictObject({
  encoding: z.enum(['o200k_base', 'cl100k_base']).default('o200k_base'),
  /**
   * Which implementation encodes. All three give tiktoken's ids (0 differences on 2000 reviews in
   * bench/tokenize.ts, and the tests). gpt-tokenizer is the default because it measured fastest on the
   * waimai reviews: ~175k msg/s against ~43k for tiktoken's wasm (whose per-call JS↔wasm string copy
   * dominates on 70-byte texts) and ~4k for js-tiktoken (no merge cache, so every Chinese piece is merged
   * from bytes again).
   */
  library: z.enum(['tiktoken', 'js-tiktoken', 'gpt-tokenizer']).default('gpt-tokenizer'),
});

/**
 * The `tokenize` section of a topology. Everything a tokenizer needs is here as plain JSON, so the runtime
 * can build the same tokenizer on a worker thread with `createTokenizer(config)`.
 */
export const tokenizeConfigSchema = z.strictObject({
  tokenizer: z.enum(['jieba', 'bpe', 'chars', 'words']).default('jieba'),
  normalize: normalizeSchema.prefault({}),
  /** Longer texts are cut (at a code point boundary) to this many UTF-16 code units, and counted as truncated. */
  maxLength: z.number().int().positive().default(DEFAULT_MAX_LENGTH),
  /**
   * Most tokens kept per message: further tokens are dropped (the message is still learned from, like a
   * text cut to maxLength) and counted in the tokenize stage's `tokensDropped`. A limit rather than a dead
   * letter, because the first tokens of a long text still carry its meaning; the bound keeps one message's
   * feature vector and hashing cost fixed (chars n-grams of a 10,000-character text are up to 80,000 tokens).
   */
  maxTokens: z.number().int().positive().default(100_000),
  /** Drop tokens made only of punctuation and symbols (Unicode P and S). Emoji and "！" can carry sentiment, so off. */
  dropPunctuation: z.boolean().default(false),
  /** Tokens to drop: a file with one per line, and/or an inline list. Compared after normalisation. */
  stopWords: z
    .strictObject({ file: z.string().min(1).optional(), words: z.array(z.string()).default([]) })
    .prefault({}),
  jieba: jiebaSchema.prefault({}),
  bpe: bpeSchema.prefault({}),
  /** Character n-grams of every length from 1 to n, within runs of non-space characters. */
  chars: z.strictObject({ n: z.number().int().min(1).max(8).default(2) }).prefault({}),
  /** Intl.Segmenter word segmentation; `locale` picks the rules (e.g. "zh" uses a dictionary for Chinese). */
  words: z
    .strictObject({
      locale: z
        .string()
        .refine(isLocale, { error: (issue) => `must be a BCP 47 language tag such as "und", "zh" or "en-US", got ${JSON.stringify(issue.input)}` })
        .default('und'),
    })
    .prefault({}),
}).refine((c) => c.tokenizer !== 'jieba' || c.jieba.mode !== 'hmm' || c.jieba.engine === 'nodejieba', {
  // Only the tokenizer in use is checked: the jieba section of a bpe topology is never read.
  path: ['jieba', 'mode'],
  message: 'is "hmm" (the HMM alone), which only engine "nodejieba" has, got engine "node-rs"',
});

export type TokenizeConfig = z.output<typeof tokenizeConfigSchema>;
export type TokenizeConfigInput = z.input<typeof tokenizeConfigSchema>;
export type JiebaConfig = TokenizeConfig['jieba'];
export type BpeConfig = TokenizeConfig['bpe'];
export type NormalizeConfig = TokenizeConfig['normalize'];
