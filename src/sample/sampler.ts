import type { RandomState } from './random.js';

/**
 * The interface every sampler implements. Samplers that need more than the item (a weight, a stratum, a
 * time) are given accessor functions when constructed, so `offer` has one signature for all of them.
 */
export interface Sampler<T> {
  /** Stable name of the method, e.g. `uniform`, `weighted`, `stratified`, `recent`. */
  readonly kind: string;
  /** Items offered so far. */
  readonly count: number;
  /** The most items `sample()` can hold (Infinity for Bernoulli and systematic samplers). */
  readonly capacity: number;
  offer(item: T): void;
  /** The current sample; a copy the caller may keep. */
  sample(): T[];
  /** Current number of items in the sample, without copying it. */
  readonly size: number;
  /** `size` items drawn uniformly with replacement from the current sample (empty if the sample is). */
  drawBatch(size: number): T[];
  snapshot(): SamplerSnapshot<T>;
  restore(snapshot: SamplerSnapshot<T>): void;
}

/** Plain data (JSON-able when T is); `kind` and `version` are checked by `restore`. */
export interface SamplerSnapshot<T> {
  readonly kind: string;
  readonly version: number;
  readonly count: number;
  readonly items: readonly T[];
  readonly random: RandomState;
  /** Method-specific state (keys, thresholds, skip counters). */
  readonly extra: Readonly<Record<string, unknown>>;
}
