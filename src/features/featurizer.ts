import { ERROR_CODES, TokrsError } from '../errors.js';
import { featuresConfigSchema, type FeaturesConfig, type FeaturesConfigInput } from './config.js';
import { murmur3Pair } from './murmur3.js';
import { allocateVector, emptyVector, type SparseVector } from './sparse-vector.js';

/** Separator of the two tokens of a bigram; normalisation turns control characters into spaces, so no token has it. */
export const BIGRAM_SEPARATOR = '\u0001';

/** Turns the tokens of one message into a hashed sparse vector. Pure: no state is shared between calls. */
export interface Featurizer {
  readonly config: FeaturesConfig;
  /** 2^bits. */
  readonly dim: number;
  featurize(tokens: readonly string[]): SparseVector;
  /** The most entries a vector of `tokenCount` tokens can have (the number of its terms). */
  maxFeatures(tokenCount: number): number;
  /**
   * The sorted codes of the terms of `tokens` (see `featurizeCodes`), in an array reused by the next call:
   * the first half of `featurize`, for a tokenizer that hashes some messages natively and others not.
   */
  hashTerms(tokens: readonly string[]): { readonly codes: Uint32Array; readonly count: number };
  /**
   * The vector of a message whose terms were hashed elsewhere (tokrs's jieba addon): `codes[0..count)` are
   * its terms' codes, each `(murmur3(term, seed) & (dim - 1)) * 2 + signBit` (signBit: `murmur3(term,
   * signSeed) & 1` when signed, else 0), sorted ascending. Gives what `featurize` gives for those terms.
   */
  featurizeCodes(codes: Uint32Array, count: number): SparseVector;
  /**
   * The same vector, written into `indices` and `values` from position `at` instead of arrays of its own
   * (a worker packing a batch); returns its length. Needs room for `count` entries.
   */
  featurizeCodesInto(codes: Uint32Array, count: number, indices: Int32Array, values: Float32Array, at: number): number;
}

/*
 * No cache of token hashes: the segmenter returns new strings for every message, so a Map lookup has to
 * hash the string first (V8 caches a string's hash only on the string itself), and measured slower than
 * MurmurHash3 of a 2-character word computed directly (bench/tokenize.ts).
 */

/**
 * Builds a featurizer from plain JSON-able config (so a worker thread can build the same one).
 *
 * @example
 * const f = createFeaturizer({ bits: 4, l2: false, signed: false });
 * f.featurize(['好吃', '好吃', '快']) // { indices: [i, j] sorted, values: tf counts, dim: 16 }
 */
export function createFeaturizer(input: FeaturesConfigInput = {}): Featurizer {
  const parsed = featuresConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new TokrsError(ERROR_CODES.CONFIG, `features: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  }
  const config = parsed.data;
  const dim = 2 ** config.bits;
  const mask = dim - 1;
  const { seed, signSeed, signed, bigrams, weighting, l2 } = config;
  const pair = new Uint32Array(2);
  // A term's code is (bucket << 1) | signBit, so sorting codes orders by bucket; bits <= 30 keeps it in uint32.
  const hash = (term: string): number => {
    murmur3Pair(term, seed, signSeed, pair);
    return ((pair[0] & mask) * 2 + (signed ? pair[1] & 1 : 0)) >>> 0;
  };
  const weigh = (count: number): number =>
    weighting === 'tf' ? count : weighting === 'binary' ? 1 : 1 + Math.log(count);

  // Scratch space reused across calls (featurize is synchronous, so no call sees another's data).
  let codes = new Uint32Array(64);
  let outIndex = new Int32Array(64);
  let outValue = new Float64Array(64);

  const maxFeatures = (tokenCount: number): number => (bigrams && tokenCount > 0 ? 2 * tokenCount - 1 : tokenCount);

  const reserve = (total: number): void => {
    if (codes.length >= total && outIndex.length >= total) return;
    codes = new Uint32Array(total * 2);
    outIndex = new Int32Array(total * 2);
    outValue = new Float64Array(total * 2);
  };

  /** Hashes the terms of `tokens` into codes[0..n) sorted; returns n. */
  const hashInto = (tokens: readonly string[]): number => {
    reserve(maxFeatures(tokens.length));
    let n = 0;
    for (let i = 0; i < tokens.length; i++) codes[n++] = hash(tokens[i]);
    // A bigram is hashed as the string `a + BIGRAM_SEPARATOR + b`.
    if (bigrams) for (let i = 1; i < tokens.length; i++) codes[n++] = hash(tokens[i - 1] + BIGRAM_SEPARATOR + tokens[i]);
    sortPrefix(codes, n);
    return n;
  };

  /** Hashes, merges and weighs into outIndex / outValue (and `scale`); returns the vector's length. */
  const build = (tokens: readonly string[]): number => {
    const n = hashInto(tokens); // first: it may replace `codes` with a larger array
    return merge(codes, n);
  };

  const hashTerms = (tokens: readonly string[]): { codes: Uint32Array; count: number } => {
    const count = hashInto(tokens);
    return { codes, count };
  };

  /** Merges and weighs the sorted `sorted[0..n)` into outIndex / outValue (and `scale`); returns the vector's length. */
  const merge = (sorted: Uint32Array, n: number): number => {
    // One pass over the sorted codes. A run of one code is one hashed feature seen `count` times; weighting
    // applies to that count (as scikit-learn's HashingVectorizer does after hashing), then the signed
    // weights of a bucket add up: the hashing trick's estimator is the sum over colliding terms.
    let m = 0;
    let cancelled = false;
    for (let i = 0; i < n; ) {
      const c = sorted[i];
      let j = i + 1;
      while (j < n && sorted[j] === c) j++;
      const index = c >>> 1;
      const value = c & 1 ? -weigh(j - i) : weigh(j - i);
      if (m > 0 && outIndex[m - 1] === index) {
        outValue[m - 1] += value;
        if (outValue[m - 1] === 0) cancelled = true;
      } else {
        outIndex[m] = index;
        outValue[m++] = value;
      }
      i = j;
    }
    let k = m;
    if (cancelled) {
      // + and - cancelled in some bucket (rare): that bucket is no feature.
      k = 0;
      for (let i = 0; i < m; i++) {
        if (outValue[i] === 0) continue;
        outIndex[k] = outIndex[i];
        outValue[k++] = outValue[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < k; i++) norm += outValue[i] * outValue[i];
    scale = l2 && norm > 0 ? 1 / Math.sqrt(norm) : 1;
    return k;
  };
  let scale = 1;

  /** Copies the vector `build` left in the scratch arrays to `indices` / `values` from `at`. */
  const write = (k: number, indices: Int32Array, values: Float32Array, at: number): void => {
    for (let i = 0; i < k; i++) {
      indices[at + i] = outIndex[i];
      values[at + i] = outValue[i] * scale;
    }
  };

  /** The scratch vector of `k` entries as a vector of its own. */
  const vectorOf = (k: number): SparseVector => {
    const vector = allocateVector(k, dim);
    write(k, vector.indices, vector.values, 0);
    return vector;
  };

  const featurize = (tokens: readonly string[]): SparseVector => (tokens.length === 0 ? emptyVector(dim) : vectorOf(build(tokens)));

  // Codes come from native code: a vector built from unsorted or out-of-range ones would break the
  // invariants every learner relies on, so they are checked (one comparison a code).
  const checkCodes = (caller: string, sorted: Uint32Array, count: number): void => {
    if (!Number.isSafeInteger(count) || count < 0 || count > sorted.length) {
      throw new TokrsError(ERROR_CODES.LIMIT, `${caller}: count must be an integer in [0, ${sorted.length}], got ${count}`);
    }
    const limit = dim * 2;
    for (let i = 0; i < count; i++) {
      if (sorted[i] >= limit || (i > 0 && sorted[i] < sorted[i - 1])) {
        throw new TokrsError(ERROR_CODES.FEATURES, `${caller}: codes must be sorted and below ${limit}; code ${i} is ${sorted[i]}`);
      }
    }
  };

  const featurizeCodes = (sorted: Uint32Array, count: number): SparseVector => {
    checkCodes('featurizeCodes', sorted, count);
    if (count === 0) return emptyVector(dim);
    reserve(count);
    return vectorOf(merge(sorted, count));
  };

  // Codes, then position, then room: a vector whose signs all cancelled is still refused past the end.
  const featurizeCodesInto = (sorted: Uint32Array, count: number, indices: Int32Array, values: Float32Array, at: number): number => {
    checkCodes('featurizeCodesInto', sorted, count);
    if (!Number.isSafeInteger(at) || at < 0) throw new TokrsError(ERROR_CODES.LIMIT, `featurizeCodesInto: position must be an integer >= 0, got ${at}`);
    if (count === 0) return 0;
    reserve(count);
    const k = merge(sorted, count);
    if (at + k > indices.length || at + k > values.length) {
      throw new TokrsError(ERROR_CODES.LIMIT, `featurizeCodesInto: ${k} entries from position ${at} do not fit arrays of ${Math.min(indices.length, values.length)}`);
    }
    write(k, indices, values, at);
    return k;
  };

  return { config, dim, featurize, maxFeatures, hashTerms, featurizeCodes, featurizeCodesInto };
}

/**
 * Sorts `a[0..n)` ascending in place. Up to 16 codes, insertion sort beats
 * `subarray(0, n).sort()`: no view to allocate and no call into the runtime. Long texts use the built-in.
 */
function sortPrefix(a: Uint32Array, n: number): void {
  if (n > 16) {
    a.subarray(0, n).sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

function describeIssue(issue: { path: PropertyKey[]; message: string }): string {
  const where = issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
  return `${where}${issue.message}`;
}
