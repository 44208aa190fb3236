/**
 * Runs a topology on Kafka: a consumer group source with backpressure, the pipeline, a batched sink for
 * the output topics, and periodic commits. At-least-once: outputs are flushed before the offsets of the
 * messages that produced them are committed, and metrics records carry their source offsets so a reader
 * can drop a duplicate window after a crash.
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { encodeRecord } from '../codec/avro.js';
import { SCHEMA_NAMES } from '../codec/records.js';
import { ensureTopics, withAdmin, type TopicSpec } from '../kafka/admin.js';
import type { Kafka } from '../kafka/client.js';
import { KafkaSink, type OutputRecord } from '../kafka/sink.js';
import { KafkaSource } from '../kafka/source.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { PipelineState, topologyPipeline, type PipelineContext, type TopologyOutput } from './pipeline.js';
import type { Topology } from './spec.js';

export interface RunOptions {
  kafka: Kafka;
  runId?: string;
  logger?: Logger;
  /** Stop once no message has arrived for this long and none is in flight (catch up, then exit). */
  idleExitMs?: number;
  /** How often processed offsets are committed (after flushing outputs). */
  commitIntervalMs?: number;
  /** Partitions for source topics that do not exist yet. */
  sourcePartitions?: number;
  sessionTimeout?: number;
  /** Every output as it is published (dashboards, tests). */
  onOutput?: (output: TopologyOutput) => void;
  /** Replaces the tokenize stage, e.g. with worker threads. */
  tokenizeStage?: PipelineContext['tokenizeStage'];
}

export interface RunHandle {
  readonly runId: string;
  readonly state: PipelineState;
  readonly source: KafkaSource;
  readonly sink: KafkaSink;
  /** Resolves when the run has stopped, flushed and committed. */
  readonly finished: Promise<RunSummary>;
  /** Graceful stop: stop fetching, finish in-flight messages, flush outputs, commit. */
  stop(): Promise<RunSummary>;
}

export interface RunSummary {
  runId: string;
  seen: number;
  labelled: number;
  deadLetters: Record<string, number>;
  published: Record<string, number>;
  maxInFlight: number;
}

/** The output topics a topology writes, with the configs they are created with. */
export function outputTopics(t: Topology): TopicSpec[] {
  const o = t.outputs;
  const specs: TopicSpec[] = [];
  const partitions = o.partitions;
  if (o.metrics) specs.push({ topic: o.metrics.topic, partitions });
  // Only the latest snapshots matter to a reader that restores; old ones may be compacted away.
  if (o.snapshots) specs.push({ topic: o.snapshots.topic, partitions: 1 });
  if (o.predictions) specs.push({ topic: o.predictions.topic, partitions });
  if (o.deadLetters) specs.push({ topic: o.deadLetters.topic, partitions });
  return specs;
}

export function encodeOutput(t: Topology, output: TopologyOutput): OutputRecord | undefined {
  const o = t.outputs;
  const key = t.name;
  switch (output.kind) {
    case 'metrics':
      return o.metrics ? { topic: o.metrics.topic, key, ...encodeRecord(SCHEMA_NAMES.metrics, output.record) } : undefined;
    case 'prediction':
      return o.predictions ? { topic: o.predictions.topic, key, ...encodeRecord(SCHEMA_NAMES.prediction, output.record) } : undefined;
    case 'snapshot':
      return o.snapshots ? { topic: o.snapshots.topic, key, ...encodeRecord(SCHEMA_NAMES.modelSnapshot, output.record) } : undefined;
    case 'deadLetter':
      return o.deadLetters ? { topic: o.deadLetters.topic, key, ...encodeRecord(SCHEMA_NAMES.deadLetter, output.record) } : undefined;
  }
}

export async function startTopology(t: Topology, options: RunOptions): Promise<RunHandle> {
  const runId = options.runId ?? randomUUID();
  const log = (options.logger ?? silentLogger).child({ topology: t.name, runId });
  const kafka = options.kafka;
  await withAdmin(kafka, async (admin) => {
    const created = await ensureTopics(admin, [
      ...t.source.topics.map((topic) => ({ topic, partitions: options.sourcePartitions ?? 3 })),
      ...outputTopics(t),
    ]);
    if (created.length > 0) log.info({ step: 'setup', created }, 'created topics');
  });

  const source = new KafkaSource({
    kafka,
    groupId: t.source.group ?? `tokrs-${t.name}`,
    topics: t.source.topics,
    fromBeginning: t.source.start === 'earliest',
    maxInFlight: t.source.maxInFlight,
    ...(options.sessionTimeout === undefined ? {} : { sessionTimeout: options.sessionTimeout, heartbeatInterval: Math.floor(options.sessionTimeout / 5) }),
    onAssignment: (assignment) => log.info({ step: 'source', assignment }, 'partitions assigned'),
  });
  const sink = new KafkaSink({ kafka, compression: t.outputs.compression });
  await sink.connect();
  const state = new PipelineState();

  let lastMessageAt = Date.now();
  let subscription: Subscription | undefined;
  let stopped = false;
  let committing: Promise<void> = Promise.resolve();
  const commit = (): Promise<void> => {
    committing = committing.then(async () => {
      await sink.flush();
      const points = await source.commit();
      if (points.length > 0) log.debug({ step: 'commit', points }, 'committed offsets');
    });
    return committing;
  };

  const finished = new Promise<RunSummary>((resolve, reject) => {
    const timer = setInterval(() => {
      commit().catch((error: unknown) => {
        log.error({ step: 'commit', err: error }, 'commit failed');
      });
      if (
        options.idleExitMs !== undefined &&
        !stopped &&
        source.tracker.inFlight === 0 &&
        Date.now() - lastMessageAt > options.idleExitMs
      ) {
        log.info({ step: 'source', idleMs: Date.now() - lastMessageAt }, 'no new messages; stopping');
        stopped = true;
        source.stop();
      }
    }, options.commitIntervalMs ?? 1000);

    const end = async (error?: unknown): Promise<void> => {
      clearInterval(timer);
      try {
        await commit();
        await sink.close();
      } catch (closeError) {
        error ??= closeError;
      }
      await source.close();
      const summary: RunSummary = {
        runId,
        seen: state.seen,
        labelled: state.labelled,
        deadLetters: { ...state.deadLetters },
        published: Object.fromEntries(sink.sent),
        maxInFlight: source.maxObservedInFlight,
      };
      log.info({ step: 'run', ...summary }, error === undefined ? 'stopped' : 'failed');
      if (error === undefined) resolve(summary);
      else reject(error);
    };

    subscription = source
      .messages()
      .pipe(
        topologyPipeline(
          t,
          {
            runId,
            done: (position) => {
              lastMessageAt = Date.now();
              source.done(position);
            },
            positions: () => source.tracker.positions(),
            ...(options.tokenizeStage === undefined ? {} : { tokenizeStage: options.tokenizeStage }),
          },
          state,
        ),
      )
      .subscribe({
        next(output) {
          const record = encodeOutput(t, output);
          if (record !== undefined) sink.send(record);
          options.onOutput?.(output);
          if (output.kind === 'metrics') {
            const r = output.report;
            log.info(
              {
                step: 'evaluate',
                trigger: r.trigger,
                messages: r.counts.messages,
                accuracy: round(r.overall.accuracy),
                macroF1: round(r.overall.macroF1),
                rollingAccuracy: r.rolling === null ? null : round(r.rolling.accuracy),
                perSecond: Math.round(r.throughput.messagesPerSecond),
              },
              'metrics',
            );
          }
        },
        error: (error: unknown) => void end(error),
        complete: () => void end(),
      });
  });

  return {
    runId,
    state,
    source,
    sink,
    finished,
    async stop() {
      if (!stopped) {
        stopped = true;
        source.stop();
      }
      const summary = await finished;
      subscription?.unsubscribe();
      return summary;
    },
  };
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
