import { ERROR_CODES, TokrsError } from '../errors.js';
import type { SampleView } from '../sample/partitioned.js';
import type { Example } from '../topology/record.js';
import type { OnlineClassifier } from './classifier.js';
import type { TrainConfig } from './config.js';

export const POLICY_SNAPSHOT_VERSION = 1;

/** The policy's counters, plain JSON-able data: `labelled` times the replays, the others are reported. */
export interface PolicySnapshot {
  readonly kind: 'training-policy';
  readonly version: number;
  readonly labelled: number;
  readonly learned: number;
  readonly replayed: number;
  readonly replays: number;
}

/**
 * The training policy without RxJS: what the model learns from after each labelled message. Replays draw
 * `replayBatch` examples uniformly with replacement from the reservoir (`Sampler.drawBatch`), which keeps
 * old but representative examples in play; an empty or absent reservoir simply skips the replay.
 */
export class TrainingPolicy {
  labelled = 0;
  learned = 0;
  replayed = 0;
  replays = 0;

  constructor(
    readonly config: TrainConfig,
    private readonly reservoir: () => SampleView<Example> | undefined,
  ) {}

  /** Learns from one labelled example according to the policy. Throws what the classifier throws. */
  onLabelled(model: OnlineClassifier, example: Example): void {
    const { learnOn, replayEvery, replayBatch } = this.config;
    if (learnOn !== 'reservoir') {
      model.learn(example.features, example.label);
      this.learned++;
    }
    this.labelled++;
    if (learnOn !== 'stream' && this.labelled % replayEvery === 0) {
      const batch = withinClassLimit(model, this.reservoir()?.drawBatch(replayBatch) ?? []);
      if (batch.length > 0) {
        model.learnMany(batch);
        this.learned += batch.length;
        this.replayed += batch.length;
        this.replays++;
      }
    }
  }

  snapshot(): PolicySnapshot {
    return { kind: 'training-policy', version: POLICY_SNAPSHOT_VERSION, labelled: this.labelled, learned: this.learned, replayed: this.replayed, replays: this.replays };
  }

  /**
   * Continues from `snapshot`: replays fall on the same labelled messages as without the interruption
   * (given the same `replayEvery`; the reservoir, with its PRNG, is restored separately).
   */
  restore(snapshot: PolicySnapshot): void {
    const fail = (what: string): never => {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore the training policy: ${what}`);
    };
    if (snapshot === null || typeof snapshot !== 'object' || snapshot.kind !== 'training-policy') fail(`not a training-policy snapshot`);
    if (snapshot.version !== POLICY_SNAPSHOT_VERSION) fail(`snapshot version ${String(snapshot.version)}; this build reads version ${POLICY_SNAPSHOT_VERSION}`);
    const keys = ['labelled', 'learned', 'replayed', 'replays'] as const;
    for (const key of keys) if (!Number.isSafeInteger(snapshot[key]) || snapshot[key] < 0) fail(`${key} must be a non-negative integer, got ${String(snapshot[key])}`);
    for (const key of keys) this[key] = snapshot[key];
  }

  counts(model: OnlineClassifier): { learned: number; replayed: number; replays: number; classes: number } {
    return { learned: this.learned, replayed: this.replayed, replays: this.replays, classes: model.labels.length };
  }
}

/**
 * The examples of a replay batch the model can take. The reservoir is offered every labelled message
 * before the model sees it, so a message whose label was refused (TOKRS_ERR_LIMIT: beyond
 * model.maxClasses, and dead-lettered) can still be drawn later; without this filter its replay would
 * fail, and the later message that triggered the replay would be dead-lettered in its place.
 */
function withinClassLimit<E extends { label: string }>(model: OnlineClassifier, batch: E[]): E[] {
  const limit = model.maxClasses;
  if (limit === undefined || batch.length === 0) return batch;
  const known = new Set(model.labels);
  if (batch.every((e) => known.has(e.label))) return batch;
  return batch.filter((e) => {
    if (known.has(e.label)) return true;
    if (known.size >= limit) return false;
    known.add(e.label); // learnOn: reservoir: labels first reach the model through replays
    return true;
  });
}
