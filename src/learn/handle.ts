import type { Evaluator, EvaluatorSnapshot } from '../evaluate/evaluator.js';
import type { ModelSnapshot, OnlineClassifier } from './classifier.js';
import type { PolicySnapshot, TrainingPolicy } from './policy.js';

/** The live state of one subscription of a train or prequential operator. */
export interface LearnerState {
  readonly model: OnlineClassifier;
  readonly policy: TrainingPolicy;
  readonly evaluator?: Evaluator;
}

/**
 * The learner side of a checkpoint, taken in one synchronous step so the three agree: pass them back as
 * `initial`, `initialPolicy` and `initialEvaluator` (the reservoir is snapshotted on its own).
 */
export interface LearnerSnapshot {
  readonly model: ModelSnapshot;
  readonly policy: PolicySnapshot;
  /** Absent for the `train` operator, which has no evaluator. */
  readonly evaluator?: EvaluatorSnapshot;
}

/**
 * A window onto the state that lives inside an operator's subscription, for snapshots, checkpoints and
 * dashboards. The operator attaches its state on subscribe and detaches it on unsubscribe, so two
 * topologies never share a model, and a handle never keeps a finished run's model alive.
 *
 * ```ts
 * const handle = new LearnerHandle();
 * records$.pipe(prequential({ ...options, handle })).subscribe(publish);
 * const bytes = encodeModelSnapshot(handle.snapshot()!); // at checkpoint time
 * ```
 */
export class LearnerHandle {
  private state: LearnerState | undefined;

  get current(): LearnerState | undefined {
    return this.state;
  }

  get model(): OnlineClassifier | undefined {
    return this.state?.model;
  }

  get evaluator(): Evaluator | undefined {
    return this.state?.evaluator;
  }

  get policy(): TrainingPolicy | undefined {
    return this.state?.policy;
  }

  /** Snapshot of the live model, or undefined when no subscription is running. */
  snapshot(): ModelSnapshot | undefined {
    return this.state?.model.snapshot();
  }

  /**
   * Model, policy and evaluator snapshots of the live subscription, or undefined when none is running.
   * Call it between two messages (e.g. from the checkpoint step of the same stream): all three then
   * describe the same point of the stream.
   *
   * ```ts
   * const saved = handle.snapshotState()!;
   * prequential({ ...options, initial: saved.model, initialPolicy: saved.policy, initialEvaluator: saved.evaluator });
   * ```
   */
  snapshotState(): LearnerSnapshot | undefined {
    const s = this.state;
    if (s === undefined) return undefined;
    const model = s.model.snapshot();
    const policy = s.policy.snapshot();
    return s.evaluator === undefined ? { model, policy } : { model, policy, evaluator: s.evaluator.snapshot() };
  }

  attach(state: LearnerState): void {
    this.state = state;
  }

  detach(state: LearnerState): void {
    if (this.state === state) this.state = undefined;
  }
}
