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
