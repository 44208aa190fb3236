import { Observable, type OperatorFunction } from 'rxjs';
import { TokrsError, describeError, ERROR_CODES } from '../errors.js';
import type { SampleView } from '../sample/partitioned.js';
import type { Example, FeaturedRecord } from '../topology/record.js';
import type { Reject } from '../topology/reject.js';
import type { ModelSnapshot, OnlineClassifier } from './classifier.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import type { LearnerHandle } from './handle.js';
import { TrainingPolicy, type PolicySnapshot } from './policy.js';

export interface TrainOperatorOptions {
  /** Called once per subscription, so state never leaks between subscriptions. */
  readonly createModel: () => OnlineClassifier;
  readonly train?: TrainConfig | TrainConfigInput;
  /** The topology's reservoir, read when a replay is due (it may be created after this operator). */
  readonly reservoir?: () => SampleView<Example> | undefined;
  /** Where messages the model cannot take go (dead-letter topic); default: dropped. */
  readonly reject?: Reject;
  readonly handle?: LearnerHandle;
  /** Restored into the fresh model on subscribe (resume from a checkpoint). */
  readonly initial?: ModelSnapshot;
  /** Restored into the fresh training policy on subscribe, so replays stay on schedule after a checkpoint. */
  readonly initialPolicy?: PolicySnapshot;
}

/**
 * Builds the per-subscription model and policy; shared by `train` and `prequential`. A snapshot that does
 * not fit throws a `TokrsError` SNAPSHOT, which the operator delivers as the stream's error.
 */
export function startLearner(options: TrainOperatorOptions): { model: OnlineClassifier; policy: TrainingPolicy } {
  const model = options.createModel();
  if (options.initial) model.restore(options.initial);
  const policy = new TrainingPolicy(parseTrainConfig(options.train ?? {}), options.reservoir ?? (() => undefined));
  if (options.initialPolicy) policy.restore(options.initialPolicy);
  return { model, policy };
}

export function toExample(record: FeaturedRecord, label: string): Example {
  return { features: record.features, label, tokenCount: record.tokenCount, timestamp: record.timestamp };
}

/** The error a stage hands to `reject`: TokrsErrors as they are, anything else wrapped as LEARN. */
export function asTokrsError(error: unknown): TokrsError {
  return error instanceof TokrsError ? error : new TokrsError(ERROR_CODES.LEARN, describeError(error), { cause: error });
}

/**
 * Learns from every labelled record according to the training policy and passes every record on
 * (unlabelled ones untouched). A record the model rejects goes to `reject` and is not passed on.
 *
 * ```ts
 * records$.pipe(train({ createModel: () => createClassifier({}, space), train: { learnOn: 'both' }, reservoir: () => sampler }))
 * ```
 */
export function train(options: TrainOperatorOptions): OperatorFunction<FeaturedRecord, FeaturedRecord> {
  return (source) =>
    new Observable<FeaturedRecord>((subscriber) => {
      const { model, policy } = startLearner(options);
      const state = { model, policy };
      options.handle?.attach(state);
      const subscription = source.subscribe({
        next(record) {
          if (record.label !== undefined) {
            try {
              policy.onLabelled(model, toExample(record, record.label));
            } catch (error) {
              options.reject?.(record, asTokrsError(error));
              return;
            }
          }
          subscriber.next(record);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        options.handle?.detach(state);
      };
    });
}
