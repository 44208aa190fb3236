import type { Evaluator } from '../evaluate/evaluator.js';
import type { ModelSnapshot, OnlineClassifier } from './classifier.js';
import type { TrainingPolicy } from './policy.js';

/** The live state of one subscription of a train or prequential operator. */
export interface LearnerState {
  readonly model: OnlineClassifier;
  readonly policy: TrainingPolicy;
  readonly evaluator?: Evaluator;
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

  /** Snapshot of the live model, or undefined when no subscription is running. */
  snapshot(): ModelSnapshot | undefined {
    return this.state?.model.snapshot();
  }

  attach(state: LearnerState): void {
    this.state = state;
  }

  detach(state: LearnerState): void {
    if (this.state === state) this.state = undefined;
  }
}
