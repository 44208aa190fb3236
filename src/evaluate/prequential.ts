import { Observable, asyncScheduler, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { argmax, toPrediction, type Prediction } from '../learn/classifier.js';
import { startLearner, asTokrsError, toExample, type TrainOperatorOptions } from '../learn/train.js';
import { checkLabel } from '../learn/validate.js';
import type { FeaturedRecord } from '../topology/record.js';
import { parseEvaluateConfig, type EvaluateConfig, type EvaluateConfigInput } from './config.js';
import { Evaluator, type EvaluatorSnapshot } from './evaluator.js';
import type { Observation } from './metrics.js';
import type { MetricsReport } from './report.js';

/** What `prequential` emits: predictions to publish and metrics reports, on one stream. */
export type PrequentialOutput =
  | { readonly type: 'prediction'; readonly record: FeaturedRecord; readonly prediction: Prediction }
  | { readonly type: 'report'; readonly report: MetricsReport };

export interface PrequentialOptions extends TrainOperatorOptions {
  /** Step name carried by reports. */
  readonly step?: string;
  readonly evaluate?: EvaluateConfig | EvaluateConfigInput;
  /** Clock and timer of time-based reports and windows; a TestScheduler in tests. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /**
   * Restored into the fresh evaluator on subscribe (with `initial` and `initialPolicy`: resume from a
   * checkpoint). Needs the same `evaluate` windows as the run that took it, or subscribing errors with SNAPSHOT.
   */
  readonly initialEvaluator?: EvaluatorSnapshot;
  /** Each scored labelled record with its observation, e.g. for totals kept per source partition. */
  readonly onScored?: (record: FeaturedRecord, observation: Observation) => void;
}

/**
 * Prequential (test-then-train) evaluation, Dawid 1984 / Gama et al. 2013: each labelled record is first
 * predicted and scored, then learned from under the training policy; an unlabelled record only gets a
 * prediction. Emits a `MetricsReport` every `reportEvery` messages and/or every `reportEveryMs` of the
 * scheduler's clock, and a last one when the input completes.
 *
 * Model, policy and evaluator are created per subscription and exposed through `options.handle`; a run
 * resumes from a checkpoint with `initial`, `initialPolicy` and `initialEvaluator` (see `LearnerHandle.snapshotState`).
 * A record the model cannot take (wrong hash size, NaN, non-string label) goes to `reject`; the stream goes on.
 *
 * ```ts
 * records$.pipe(prequential({ createModel, train: { learnOn: 'both' }, evaluate: { reportEvery: 500 }, reservoir: () => sampler }))
 * ```
 */
export function prequential(options: PrequentialOptions): OperatorFunction<FeaturedRecord, PrequentialOutput> {
  const config = parseEvaluateConfig(options.evaluate ?? {});
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<PrequentialOutput>((subscriber) => {
      const { model, policy } = startLearner(options);
      const evaluator = new Evaluator({
        step: options.step ?? 'prequential',
        now: () => scheduler.now(),
        rollingWindow: config.rollingWindow,
        timeWindowMs: config.timeWindowMs,
        fadingFactor: config.fadingFactor ?? undefined,
      });
      if (options.initialEvaluator) evaluator.restore(options.initialEvaluator);
      const state = { model, policy, evaluator };
      options.handle?.attach(state);
      const emitReport = (trigger: MetricsReport['trigger']): void => {
        subscriber.next({ type: 'report', report: evaluator.report(trigger, policy.counts(model), options.reservoir?.()) });
      };
      let timer: Subscription | undefined;
      if (config.reportEveryMs > 0) {
        const every = config.reportEveryMs;
        timer = scheduler.schedule(function (this: SchedulerAction<undefined>) {
          emitReport('time');
          this.schedule(undefined, every);
        }, every);
      }
      const onRecord = (record: FeaturedRecord): void => {
        const label: unknown = record.label;
        let counted = false;
        try {
          if (label !== undefined) checkLabel(label);
          evaluator.seen(label);
          counted = true;
          const proba = model.predictProba(record.features);
          if (label === undefined) {
            if (config.emitPredictions !== 'none') subscriber.next({ type: 'prediction', record, prediction: toPrediction(model.labels, proba) });
            return;
          }
          if (proba.length > 0) {
            const k = model.labels.indexOf(label);
            const observation: Observation = { yTrue: label, yPred: model.labels[argmax(proba)]!, pTrue: k < 0 ? 0 : proba[k]! };
            evaluator.observe(observation);
            options.onScored?.(record, observation);
          }
          if (config.emitPredictions === 'all') subscriber.next({ type: 'prediction', record, prediction: toPrediction(model.labels, proba) });
          policy.onLabelled(model, toExample(record, label));
        } catch (error) {
          // A record whose label is not a string counts as a message, not as a labelled one.
          if (!counted) evaluator.seen(undefined);
          evaluator.reject();
          options.reject?.(record, asTokrsError(error));
        }
      };
      const subscription = source.subscribe({
        next(record) {
          onRecord(record);
          if (config.reportEvery > 0 && evaluator.messages % config.reportEvery === 0) emitReport('count');
        },
        error: (e: unknown) => subscriber.error(e),
        complete() {
          if (config.reportOnComplete) emitReport('complete');
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        subscription.unsubscribe();
        options.handle?.detach(state);
      };
    });
}
