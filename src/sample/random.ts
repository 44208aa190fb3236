/**
 * The random source every sampler and learner takes as an argument (never reached for from inside), so
 * that runs are reproducible from a seed and a restored component continues exactly where it stopped.
 */
export interface Random {
  /** A uniform float in [0, 1). */
  next(): number;
  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** The whole generator state, enough for `restore` to continue the same sequence. */
  snapshot(): RandomState;
  restore(state: RandomState): void;
}

export interface RandomState {
  readonly algorithm: string;
  readonly state: readonly number[];
}
