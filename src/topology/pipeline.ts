/**
 * The one place where stages are wired together: raw messages → decode → tokenize + hash → sample →
 * prequential (predict, then learn with reservoir replay) → output records (metrics, predictions,
 * snapshots, dead letters). No Kafka here: the runner (Kafka) and the replayer (Kafka range or file) feed
 * it raw messages and publish what it emits, so a backtest runs exactly the code a live run does.
 */
import { Observable, tap, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { buildDeadLetter } from '../codec/dead-letter.js';
import { decode, type RawMessage } from '../codec/decode-operator.js';
import { createDecoder } from '../codec/input.js';
import { metricsRecordFromReport, modelSnapshotToRecord, predictionRecord } from '../codec/mapping.js';
import type { DeadLetterRecord, HashSettingsRecord, MetricsRecord, ModelSnapshotRecord, PredictionRecord } from '../codec/records.js';
import { TokrsError, describeError } from '../errors.js';
import { prequential } from '../evaluate/prequential.js';
import type { MetricsReport } from '../evaluate/report.js';
import { createFeaturizer } from '../features/featurizer.js';
import type { EvaluatorSnapshot } from '../evaluate/evaluator.js';
import type { ModelSnapshot } from '../learn/classifier.js';
import type { PolicySnapshot } from '../learn/policy.js';
import type { PipelineCounters } from '../state/checkpoint.js';
import { createClassifier } from '../learn/factory.js';
import { LearnerHandle } from '../learn/handle.js';
import { fieldAccessors, createSampler } from '../sample/config.js';
import type { SampleView } from '../sample/partitioned.js';
import { createRandom, type RandomState } from '../sample/random.js';
import { keyOfSource, NO_PARTITION, PartitionStates } from '../state/partition-state.js';
import { createTokenizer, type TextTokenizer } from '../tokenize/create-tokenizer.js';
import { createTokenizeStats, tokenizeAndHash, type TokenizeStats } from '../tokenize/tokenize-operator.js';
import { tokenizeOnWorkers } from '../tokenize/worker-pool.js';
import { afterEach } from './after-each.js';
import type { Example, FeaturedRecord, SourcePosition, TextRecord } from './record.js';
import type { Reject } from './reject.js';
import { sampleLabelled } from './sample-labelled.js';
import type { Topology } from './spec.js';

export type TopologyOutput =
  | { readonly kind: 'metrics'; readonly record: MetricsRecord; readonly report: MetricsReport }
  | { readonly kind: 'prediction'; readonly record: PredictionRecord }
  | { readonly kind: 'snapshot'; readonly record: ModelSnapshotRecord }
  | { readonly kind: 'deadLetter'; readonly record: DeadLetterRecord };

/** Where a record's processing ends; the runner commits offsets up to it. */
export type Done = (position: SourcePosition) => void;

export interface PipelineContext {
  readonly runId: string;
  /** The process's instance name (`tokrs run --instance`), carried by metrics and snapshot records so that several processes of one topology can be told apart. */
  readonly instance?: string;
  /** Clock and timers (time-triggered reports); a TestScheduler or an event-time scheduler in replays. */
  readonly scheduler?: SchedulerLike;
  /** Called once per message when it is fully processed or dead-lettered. */
  readonly done?: Done;
  /** Next offset to process per partition, for metrics and snapshot records. */
  readonly positions?: () => readonly SourcePosition[];
  /** State to resume from (a checkpoint). */
  readonly restore?: {
    model?: ModelSnapshot;
    /** States of source partitions (`PartitionStates.encode` bytes by partition key), installed on subscribe. */
    partitions?: ReadonlyMap<string, Uint8Array>;
    /** The PRNG that picks partitions for replay draws. */
    draws?: RandomState;
    evaluator?: EvaluatorSnapshot;
    policy?: PolicySnapshot;
    counters?: PipelineCounters;
  };
  /** A tokenizer built elsewhere (e.g. shared by several topologies of one A/B replay); it runs on this thread, whatever `workers` says. */
  readonly tokenizer?: TextTokenizer;
  /** Replaces the tokenize + hash stage, e.g. by one that runs on worker threads. */
  readonly tokenizeStage?: (reject: Reject, stats: TokenizeStats) => OperatorFunction<TextRecord, FeaturedRecord>;
}

/** The live state of one run of a pipeline, for snapshots, checkpoints, dashboards and tests. */
export class PipelineState {
  readonly learner = new LearnerHandle();
  /** Sampler and evaluator totals per source partition; set on subscribe. */
  partitions: PartitionStates | undefined;
  readonly tokenize: TokenizeStats = createTokenizeStats();
  readonly deadLetters: Record<string, number> = {};
  /** Messages that entered the pipeline. */
  seen = 0;
  /** Labelled messages processed (scored and learned from). */
  labelled = 0;
  snapshotVersion = 0;
  lastReport: MetricsReport | undefined;

  /** The sample of all partitions held (replays, reports, dashboards). */
  get sampler(): SampleView<Example> | undefined {
    return this.partitions?.sampler;
  }
}

export function hashSettings(t: Topology): HashSettingsRecord {
  return {
    bits: t.features.bits,
    seed: t.features.seed,
    signSeed: t.features.signSeed,
    sign: t.features.signed,
    bigrams: t.features.bigrams,
    weighting: t.features.weighting,
    normalize: t.features.l2,
  };
}

/** The hashed space a topology's model lives in; a snapshot restores only into the same one. */
export function modelSpace(t: Topology): { dim: number; hashing: Record<string, string | number | boolean> } {
  return { dim: 2 ** t.features.bits, hashing: { ...hashSettings(t), signSeed: t.features.signSeed } };
}

/**
 * The per-partition states of a topology: each partition's sampler is seeded from the topology's seed and
 * the partition's key, so whichever process holds a partition, its sample is the same.
 */
export function createPartitionStates(t: Topology, restore?: PipelineContext['restore']): PartitionStates {
  const accessors = fieldAccessors<Example>(t.sample);
  const states = new PartitionStates(
    (key) => createSampler<Example>(t.sample, accessors, createRandom(key === NO_PARTITION ? `${t.seed}:sample` : `${t.seed}:sample:${key}`)),
    createRandom(`${t.seed}:draws`),
  );
  for (const [key, bytes] of restore?.partitions ?? []) states.install(key, bytes);
  if (restore?.draws !== undefined) states.sampler.restoreDrawState(restore.draws);
  return states;
}

function positionOf(input: unknown): SourcePosition | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const o = input as { topic?: unknown; partition?: unknown; offset?: unknown; source?: SourcePosition };
  if (typeof o.topic === 'string' && typeof o.partition === 'number' && typeof o.offset === 'string') {
    return { topic: o.topic, partition: o.partition, offset: o.offset };
  }
  return o.source;
}


/**
 * The whole topology as one operator. State (tokenizer, sampler, model, evaluator) is created per
 * subscription and published on `state`.
 */
export function topologyPipeline(
  t: Topology,
  ctx: PipelineContext,
  state: PipelineState = new PipelineState(),
): OperatorFunction<RawMessage, TopologyOutput> {
  return (raw$) =>
    new Observable<TopologyOutput>((subscriber) => {
      const now = (): number => ctx.scheduler?.now() ?? Date.now();
      const featurizer = createFeaturizer(t.features);
      // Built lazily: with worker threads the main thread needs no tokenizer (nodejieba loads ~100 MB).
      const tokenizer = t.workers > 0 && ctx.tokenizer === undefined ? undefined : (ctx.tokenizer ?? createTokenizer(t.tokenize));
      const hash = hashSettings(t);
      // Raw bytes of the messages in flight, so a dead letter from any stage carries the original message.
      // Keyed by the decoded record's `source` object, which every later stage passes on unchanged: an
      // identity lookup, where a "topic/partition/offset" string key cost a concatenation and a hash twice a
      // message.
      const inFlight = new Map<SourcePosition, RawMessage>();
      let decoding: RawMessage | undefined;
      const counters = ctx.restore?.counters;
      if (counters !== undefined) {
        state.seen = counters.seen;
        state.labelled = counters.labelled;
        Object.assign(state.deadLetters, counters.deadLetters);
        state.snapshotVersion = counters.snapshotVersion;
        Object.assign(state.tokenize, counters.tokenize);
      }

      const finish = (position: SourcePosition | undefined): void => {
        if (position === undefined) return;
        inFlight.delete(position);
        ctx.done?.(position);
      };

      /** The dead-letter handler of one step: the step is named in the dead letter. */
      const rejectAt = (step: 'decode' | 'tokenize' | 'learn'): Reject => (input, error) => {
        const position = positionOf(input);
        // A message the decoder refused is the raw message itself.
        const raw = step === 'decode' ? (input as RawMessage) : position === undefined ? undefined : inFlight.get(position);
        state.deadLetters[error.code] = (state.deadLetters[error.code] ?? 0) + 1;
        const recordId = (input as { id?: unknown } | null)?.id;
        subscriber.next({
          kind: 'deadLetter',
          record: buildDeadLetter({
            topology: t.name,
            ...(position === undefined ? {} : { source: position }),
            key: raw?.key ?? null,
            value: raw?.value ?? null,
            error,
            step,
            ...(typeof recordId === 'string' ? { recordId } : {}),
            time: now(),
          }),
        });
        finish(position);
      };

      const snapshot = (): void => {
        const model = state.learner.snapshot();
        if (model === undefined) return;
        state.snapshotVersion++;
        // Metrics as of this snapshot, straight from the live evaluator (so a restored run agrees).
        const overall = state.learner.evaluator?.overall.get();
        subscriber.next({
          kind: 'snapshot',
          record: modelSnapshotToRecord(model, {
            topology: t.name,
            runId: ctx.runId,
            version: state.snapshotVersion,
            hash,
            metrics: overall === undefined ? {} : { accuracy: overall.accuracy, macroF1: overall.macroF1, logLoss: overall.logLoss, count: overall.count },
            sourceOffsets: ctx.positions?.() ?? [],
            instance: ctx.instance ?? null,
            createdAt: now(),
          }),
        });
      };

      const everyMessages = t.outputs.snapshots?.everyMessages ?? 0;
      const metricsContext = () => ({
        topology: t.name,
        runId: ctx.runId,
        seen: state.seen,
        deadLetters: { ...state.deadLetters },
        reservoir: { method: t.sample.method, capacity: t.sample.size },
        tokensPerMessage: state.tokenize.messages === 0 ? null : state.tokenize.tokens / state.tokenize.messages,
        sourceOffsets: ctx.positions?.() ?? [],
        windowSize: t.evaluate.reportEvery,
        instance: ctx.instance ?? null,
        partitions: (state.partitions?.totalsByPartition() ?? []).map(({ topic, partition, summary }) => {
          const m = summary.get();
          return { topic, partition, scored: m.count, correct: summary.cm.diagonal, logLoss: m.count === 0 ? null : m.logLoss };
        }),
      });

      // No tokenizer here means workers without one handed in. A tokenizer handed in (replays) runs here: a
      // replay's event-time clock moves message by message, so each message must be through the pipeline
      // before the next one comes.
      const tokenizeStage =
        ctx.tokenizeStage?.(rejectAt('tokenize'), state.tokenize) ??
        (tokenizer === undefined
          ? tokenizeOnWorkers({ tokenize: t.tokenize, features: t.features, workers: t.workers, reject: rejectAt('tokenize'), stats: state.tokenize, keepTokens: false })
          : tokenizeAndHash({ tokenizer, featurizer, reject: rejectAt('tokenize'), stats: state.tokenize }));

      const subscription = raw$
        .pipe(
          tap((message: RawMessage) => {
            state.seen++;
            decoding = message;
          }),
          decode(createDecoder({ format: t.source.format, fields: t.source.fields, limits: t.source.limits }), rejectAt('decode')),
          // decode is synchronous and one-to-one: the record that comes out is the message that went in.
          tap((record: TextRecord) => {
            if (record.source !== undefined && decoding !== undefined) inFlight.set(record.source, decoding);
            decoding = undefined;
          }),
          tokenizeStage,
          afterEach((record: FeaturedRecord) => {
            if (record.label !== undefined) {
              state.labelled++;
              if (everyMessages > 0 && state.labelled % everyMessages === 0) snapshot();
            }
            finish(record.source);
          }),
          sampleLabelled({
            createStates: () => createPartitionStates(t, ctx.restore),
            onStates: (s) => (state.partitions = s),
          }),
          prequential({
            step: t.name,
            createModel: () => createClassifier(t.model, modelSpace(t)),
            train: t.train,
            evaluate: t.evaluate,
            reservoir: () => state.sampler,
            reject: rejectAt('learn'),
            onScored: (record, observation) => state.partitions?.observe(keyOfSource(record.source), observation),
            handle: state.learner,
            ...(ctx.scheduler === undefined ? {} : { scheduler: ctx.scheduler }),
            ...(ctx.restore?.model === undefined ? {} : { initial: ctx.restore.model }),
            ...(ctx.restore?.evaluator === undefined ? {} : { initialEvaluator: ctx.restore.evaluator }),
            ...(ctx.restore?.policy === undefined ? {} : { initialPolicy: ctx.restore.policy }),
          }),
        )
        .subscribe({
          next(out) {
            if (out.type === 'report') {
              state.lastReport = out.report;
              subscriber.next({ kind: 'metrics', report: out.report, record: metricsRecordFromReport(out.report, metricsContext()) });
            } else {
              const r = out.record;
              subscriber.next({
                kind: 'prediction',
                record: predictionRecord({
                  topology: t.name,
                  id: r.id,
                  label: out.prediction.label,
                  probabilities: out.prediction.probabilities,
                  ...(r.label === undefined ? {} : { trueLabel: r.label }),
                  modelVersion: state.snapshotVersion,
                  ...(r.source === undefined ? {} : { source: r.source }),
                  timestamp: r.timestamp,
                }),
              });
            }
          },
          error: (error: unknown) => subscriber.error(error instanceof TokrsError ? error : new Error(describeError(error), { cause: error })),
          complete() {
            // The last snapshot, so a stopped run can be restored from where it ended.
            if (t.outputs.snapshots !== null && state.labelled % Math.max(everyMessages, 1) !== 0) snapshot();
            subscriber.complete();
          },
        });
      return () => subscription.unsubscribe();
    });
}
