import type { SparseVector } from '../features/sparse-vector.js';

/**
 * The one interface every online classifier implements (River's `learn_one` / `predict_proba_one`, made
 * sparse and typed). Labels are discovered online: the first time `learn` sees a label it becomes a new
 * class, appended to `labels`. `labels` only ever grows, so an index into it stays valid for the life of
 * the model and the probability arrays below are aligned with it.
 *
 * Bad input throws a `TokrsError` (FEATURES for the vector, LEARN for label/weight, SNAPSHOT for restore)
 * before any state is touched, so a rejected message never half-updates the model.
 */
export interface OnlineClassifier {
  /** Stable name of the implementation, e.g. `softmax-sgd`, `tfjs`; also the snapshot kind. */
  readonly kind: string;
  /** The hashed input space the model accepts (vectors of another `dim` are rejected). */
  readonly dim: number;
  /** Classes seen so far, in order of discovery. */
  readonly labels: readonly string[];
  /** Examples learned from so far (each `learn` and each item of `learnMany`). */
  readonly updates: number;
  /** Most classes the model takes (model.maxClasses); a further label is a TOKRS_ERR_LIMIT. */
  readonly maxClasses?: number;
  /**
   * Class probabilities aligned with `labels` (a fresh array the caller may keep). Empty when no label
   * has been seen; `[1]` when exactly one has.
   */
  predictProba(x: SparseVector): Float64Array;
  /** The most probable label (first one on ties), or undefined before any label was seen. */
  predict(x: SparseVector): string | undefined;
  /** One update from one example; `weight` (default 1) multiplies its gradient. */
  learn(x: SparseVector, y: string, weight?: number): void;
  /** Learns from a batch, e.g. a replay mini-batch drawn from the reservoir. Validates all items first. */
  learnMany(batch: readonly LabelledVector[]): void;
  /** Everything needed to continue exactly where it stopped: weights, optimizer state, labels, counters. */
  snapshot(): ModelSnapshot;
  /** Replaces the whole state with a snapshot of the same kind, format version and hash settings. */
  restore(snapshot: ModelSnapshot): void;
  /** Frees native memory (tfjs tensors); a no-op for plain typed-array models. */
  dispose(): void;
}

/** An `Example` (src/topology/record.ts) fits this shape. */
export interface LabelledVector {
  readonly features: SparseVector;
  readonly label: string;
  readonly weight?: number;
}

/**
 * The settings of the feature hasher the model was trained with. Opaque to the learner (it only compares
 * them on restore), so the features engineer can add fields without touching src/learn.
 */
export type HashSettings = Readonly<Record<string, string | number | boolean>>;

export type SnapshotArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/**
 * A model snapshot: small JSON-able header plus typed arrays, so that it can be written as bytes without
 * a per-weight conversion (see `encodeModelSnapshot`). `restore` checks kind, version, dim and hashing.
 */
export interface ModelSnapshot {
  readonly kind: string;
  readonly version: number;
  readonly dim: number;
  readonly hashing: HashSettings;
  readonly labels: readonly string[];
  /** Implementation-specific scalars: options, optimizer settings and counters. JSON-able. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Weights and optimizer state (accumulators, FTRL z and n, lazy-regularisation clocks). */
  readonly arrays: Readonly<Record<string, SnapshotArray>>;
}

/** What the topology publishes for a message: the predicted label and every class probability. */
export interface Prediction {
  readonly label: string | undefined;
  readonly probabilities: Readonly<Record<string, number>>;
}

export function toPrediction(labels: readonly string[], proba: Float64Array): Prediction {
  // Labels are data: on a plain object, a label "__proto__" would set the prototype instead of a key.
  const probabilities = Object.create(null) as Record<string, number>;
  let best = -1;
  for (let k = 0; k < proba.length; k++) {
    probabilities[labels[k]] = proba[k];
    if (best < 0 || proba[k] > proba[best]) best = k;
  }
  return { label: best < 0 ? undefined : labels[best], probabilities };
}

/** Index of the largest entry, the first one on ties; -1 for an empty array. */
export function argmax(values: ArrayLike<number>): number {
  let best = -1;
  for (let k = 0; k < values.length; k++) if (best < 0 || values[k] > values[best]) best = k;
  return best;
}
