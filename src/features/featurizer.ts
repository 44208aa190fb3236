import { ERROR_CODES, TokrsError } from '../errors.js';
import { featuresConfigSchema, type FeaturesConfig, type FeaturesConfigInput } from './config.js';
import { murmur3Pair } from './murmur3.js';
import { emptyVector, type SparseVector } from './sparse-vector.js';

/** Separator of the two tokens of a bigram; normalisation turns control characters into spaces, so no token has it. */
export const BIGRAM_SEPARATOR = '\u0001';

/** Turns the tokens of one message into a hashed sparse vector. Pure: no state is shared between calls. */
export interface Featurizer {
  readonly config: FeaturesConfig;
  /** 2^bits. */
  readonly dim: number;
  featurize(tokens: readonly string[]): SparseVector;
}

/**
 * Tokens repeat across messages (a Chinese review corpus has ~30k distinct words), so a token's two hashes
 * are remembered; the cache is cleared when full rather than evicting one by one, which keeps it cheap and
 * cannot change a result (hashes are pure functions of the token).
 */
const CACHE_LIMIT = 1 << 16;

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
  // Bucket index in the low 30 bits, sign in bit 30, so one number per token in the cache.
  const cache = new Map<string, number>();

  const code = (token: string): number => {
    let c = cache.get(token);
    if (c === undefined) {
      murmur3Pair(token, seed, signSeed, pair);
      c = (pair[0] & mask) | (signed && (pair[1] & 1) === 1 ? 1 << 30 : 0);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(token, c);
    }
    return c;
  };

  const featurize = (tokens: readonly string[]): SparseVector => {
    if (tokens.length === 0) return emptyVector(dim);
    // Term counts first: binary and logtf weight each distinct term, not each occurrence.
    const counts = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) counts.set(tokens[i], (counts.get(tokens[i]) ?? 0) + 1);
    if (bigrams) {
      for (let i = 1; i < tokens.length; i++) {
        const b = tokens[i - 1] + BIGRAM_SEPARATOR + tokens[i];
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
    }
    // Colliding terms add up (with their signs): the hashing trick's estimator is the sum.
    const buckets = new Map<number, number>();
    for (const [term, count] of counts) {
      const c = bigrams && term.includes(BIGRAM_SEPARATOR) ? hashUncached(term) : code(term);
      const weight = weighting === 'tf' ? count : weighting === 'binary' ? 1 : 1 + Math.log(count);
      const index = c & 0x3fffffff;
      const value = c & (1 << 30) ? -weight : weight;
      buckets.set(index, (buckets.get(index) ?? 0) + value);
    }
    const indices = new Int32Array(buckets.size);
    let n = 0;
    for (const [index, value] of buckets) if (value !== 0) indices[n++] = index;
    const sorted = indices.subarray(0, n).sort();
    const values = new Float32Array(n);
    let norm = 0;
    for (let i = 0; i < n; i++) {
      const v = buckets.get(sorted[i]) as number;
      values[i] = v;
      norm += v * v;
    }
    if (l2 && norm > 0) {
      const scale = 1 / Math.sqrt(norm);
      for (let i = 0; i < n; i++) values[i] *= scale;
    }
    return { indices: n === indices.length ? indices : indices.slice(0, n), values, dim };
  };

  // Bigrams are mostly unique, so they bypass the cache instead of flushing it.
  const hashUncached = (term: string): number => {
    murmur3Pair(term, seed, signSeed, pair);
    return (pair[0] & mask) | (signed && (pair[1] & 1) === 1 ? 1 << 30 : 0);
  };

  return { config, dim, featurize };
}

function describeIssue(issue: { path: PropertyKey[]; message: string }): string {
  const where = issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
  return `${where}${issue.message}`;
}
