/**
 * A sparse feature vector in a hashed space of `dim` buckets (dim = 2^bits).
 *
 * Invariants, relied on by the learners: `indices` are sorted ascending with no duplicates, every index is
 * in [0, dim), `values` has the same length and holds finite numbers.
 */
export interface SparseVector {
  readonly indices: Int32Array;
  readonly values: Float32Array;
  readonly dim: number;
}

export function emptyVector(dim: number): SparseVector {
  return { indices: new Int32Array(0), values: new Float32Array(0), dim };
}

/**
 * V8 keeps a typed array of at most 64 bytes inside the JS heap, which is cheap to allocate; a larger one
 * gets an ArrayBuffer outside it, which costs several times more (bench/featurize.ts). So a vector of up to
 * 16 entries gets two small arrays, and a longer one a single ArrayBuffer holding both (indices, then
 * values): one outside allocation instead of two.
 */
const ON_HEAP = 16;

/**
 * A vector of `k` entries, zero-filled for the caller to fill. Its arrays share no buffer with any other
 * vector, so keeping a vector (in a reservoir) keeps only its own bytes alive.
 */
export function allocateVector(k: number, dim: number): SparseVector {
  if (k <= ON_HEAP) return { indices: new Int32Array(k), values: new Float32Array(k), dim };
  const buffer = new ArrayBuffer(k * 8);
  return { indices: new Int32Array(buffer, 0, k), values: new Float32Array(buffer, k * 4, k), dim };
}

/** A vector of its own holding entries [start, end) of `indices` and `values` (e.g. one of a packed batch). */
export function copyVector(indices: Int32Array, values: Float32Array, start: number, end: number, dim: number): SparseVector {
  const v = allocateVector(end - start, dim);
  for (let i = start, j = 0; i < end; i++, j++) {
    v.indices[j] = indices[i];
    v.values[j] = values[i];
  }
  return v;
}
