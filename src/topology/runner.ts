/**
 * Runs a topology on Kafka: a consumer-group source with backpressure, the pipeline, the output topics,
 * periodic commits and checkpoints.
 *
 * - at-least-once: outputs are flushed before the offsets of the messages that produced them are
 *   committed, and metrics records carry their source offsets, so a reader can drop a window published
 *   twice after a crash. A checkpoint (if configured) is written and flushed before the offsets it covers.
 * - exactly-once: outputs are held until the next checkpoint; then the outputs, the checkpoint and the
 *   consumer offsets are committed in one Kafka transaction. A crash loses the open transaction, and the
 *   restart resumes from the last committed checkpoint, so every message counts exactly once and a
 *   read_committed reader never sees a window twice. The transactional id is stable per instance, so a
 *   restarted process fences its own zombie.
 */
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { Subject, type Subscription } from 'rxjs';
import type { RawMessage } from '../codec/decode-operator.js';
import type { CheckpointRecord } from '../codec/records.js';
import { describeError } from '../errors.js';
import { ensureTopics, withAdmin, type TopicSpec } from '../kafka/admin.js';
import type { Kafka } from '../kafka/client.js';
import { COMPRESSION, KafkaSink, MAX_REQUEST_BYTES, chunksOf, type Compression, type OutputRecord } from '../kafka/sink.js';
import { withRetry, type RetryOptions } from '../kafka/retry.js';
import type { CommitPoint } from '../kafka/offset-tracker.js';
import { KafkaSource } from '../kafka/source.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import type { TopologyMetrics } from '../observe/prometheus.js';
import { captureCheckpoint, checkpointKey, encodeCheckpoint, readLatestCheckpoint, restoredFrom, type RestoredState } from '../state/checkpoint.js';
import { createOutputEncoder } from './outputs.js';
import { PipelineState, topologyPipeline, type PipelineContext, type TopologyOutput } from './pipeline.js';
import type { Topology } from './spec.js';

export interface RunOptions {
  kafka: Kafka;
  runId?: string;
  /** This process's name within the topology's consumer group; keys its checkpoint and transactional id. */
  instance?: string;
  logger?: Logger;
  /** Stop once no message has arrived for this long and none is in flight (catch up, then exit). */
  idleExitMs?: number;
  /** How often processed offsets are committed (after flushing outputs), and checkpoints considered. */
  commitIntervalMs?: number;
  /** Partitions for source topics that do not exist yet. */
  sourcePartitions?: number;
  sessionTimeout?: number;
  /** Every output as it is produced (dashboards, tests). */
  onOutput?: (output: TopologyOutput) => void;
  /** Replaces the tokenize stage, e.g. with worker threads. */
  tokenizeStage?: PipelineContext['tokenizeStage'];
  /** Prometheus metrics to keep up to date (outputs, and consumer lag polled every 5 s). */
  metrics?: TopologyMetrics;
}

/** Messages in the source topics that the group has not committed yet, summed over partitions. */
export async function consumerLag(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const p of partitions) {
        const end = ends.find((e) => e.partition === p.partition);
        if (end === undefined) continue;
        const from = Number(p.offset) < 0 ? Number(end.low) : Number(p.offset);
        lag += Math.max(0, Number(end.high) - from);
      }
    }
    return lag;
  });
}

export interface RunHandle {
  readonly runId: string;
  readonly state: PipelineState;
  readonly source: KafkaSource;
  /** The checkpoint this run resumed from, if any. */
  readonly restored: RestoredState | undefined;
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
  maxInFlight: number;
  checkpoints: number;
  restoredFrom: number | null;
  /** Times this process went back to its last checkpoint after partitions moved to another member. */
  rewinds: number;
  /** Messages passed over because the restored checkpoint already covered them. */
  coveredByCheckpoint: number;
  /** Messages the consumer delivered again (after a restart or rebalance) and that were passed over. */
  redelivered: number;
}

/** The output topics a topology writes, with the configs they are created with. */
export function outputTopics(t: Topology): TopicSpec[] {
  const o = t.outputs;
  const specs: TopicSpec[] = [];
  const partitions = o.partitions;
  if (o.metrics) specs.push({ topic: o.metrics.topic, partitions });
  if (o.snapshots) specs.push({ topic: o.snapshots.topic, partitions: 1 });
  if (o.predictions) specs.push({ topic: o.predictions.topic, partitions });
  if (o.deadLetters) specs.push({ topic: o.deadLetters.topic, partitions });
  // Only the latest state of each process matters: compaction keeps the state topic small.
  // Small segments, so the compactor can drop old checkpoints soon and a restore reads little.
  if (t.checkpoint) {
    specs.push({
      topic: t.checkpoint.topic,
      partitions: 1,
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(64 * 1024 * 1024), 'segment.ms': '600000', 'min.cleanable.dirty.ratio': '0.1' },
    });
  }
  return specs;
}

export { encodeOutput } from './outputs.js';

/** Where outputs go and how offsets are committed: the two guarantees behind one small interface. */
interface Committer {
  send(record: OutputRecord): void;
  /**
   * Makes durable the outputs sent so far and the offsets `points` (captured together with `checkpoint`,
   * so the offsets never run ahead of the state), atomically where the guarantee says so.
   */
  commit(checkpoint: OutputRecord | undefined, points: readonly CommitPoint[], outputs: readonly OutputRecord[]): Promise<void>;
  /** Takes the outputs queued so far (synchronously, with the checkpoint and points they belong to). */
  takeOutputs(): OutputRecord[];
  close(): Promise<void>;
}

function atLeastOnce(kafka: Kafka, t: Topology, source: KafkaSource, retry: RetryOptions): Committer & { connect(): Promise<void> } {
  const sink = new KafkaSink({ kafka, compression: t.outputs.compression, retry });
  return {
    connect: () => sink.connect(),
    send: (record) => sink.send(record),
    // The sink keeps its own queue: flushing more than the points cover is fine at least once.
    takeOutputs: () => [],
    async commit(checkpoint, points) {
      if (checkpoint !== undefined) sink.send(checkpoint);
      await sink.flush();
      await withRetry(() => source.commit(points), retry);
    },
    close: () => sink.close(),
  };
}

function exactlyOnce(producer: Producer, groupId: string, source: KafkaSource, retry: RetryOptions, compression: Compression): Committer {
  let pending: OutputRecord[] = [];
  return {
    send: (record) => void pending.push(record),
    takeOutputs() {
      const taken = pending;
      pending = [];
      return taken;
    },
    async commit(checkpoint, points, outputs) {
      if (checkpoint === undefined && outputs.length === 0 && points.length === 0) return;
      const records = checkpoint === undefined ? [...outputs] : [...outputs, checkpoint];
      // The same records, checkpoint and offsets are retried in a fresh transaction after a retriable
      // failure (a broker restarting): an aborted attempt is invisible to read_committed readers.
      await withRetry(async () => {
        const transaction = await producer.transaction();
        try {
          // Requests are kept well under the broker's socket.request.max.bytes (100 MB): model snapshots
          // and checkpoints of a 2^20-bucket model are megabytes each.
          for (const chunk of chunksOf(records, MAX_REQUEST_BYTES)) {
            const byTopic = new Map<string, OutputRecord[]>();
            for (const r of chunk) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
            await transaction.sendBatch({
              topicMessages: [...byTopic].map(([topic, list]) => ({
                topic,
                messages: list.map((r) => ({ key: r.key, value: r.value, ...(r.headers ? { headers: r.headers } : {}) })),
              })),
              compression: COMPRESSION[compression],
            });
          }
          if (points.length > 0) {
            const topics = new Map<string, { partition: number; offset: string }[]>();
            for (const p of points) topics.set(p.topic, [...(topics.get(p.topic) ?? []), { partition: p.partition, offset: p.offset }]);
            await transaction.sendOffsets({
              consumerGroupId: groupId,
              topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
            });
          }
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      }, retry);
      source.tracker.markCommitted(points);
    },
    close: () => producer.disconnect(),
  };
}

export async function startTopology(t: Topology, options: RunOptions): Promise<RunHandle> {
  const runId = options.runId ?? randomUUID();
  const instance = options.instance ?? 'main';
  const log = (options.logger ?? silentLogger).child({ topology: t.name, instance, runId });
  const kafka = options.kafka;
  const groupId = t.source.group ?? `tokrs-${t.name}`;
  await withAdmin(kafka, async (admin) => {
    const created = await ensureTopics(admin, [
      ...t.source.topics.map((topic) => ({ topic, partitions: options.sourcePartitions ?? 3 })),
      ...outputTopics(t),
    ]);
    if (created.length > 0) log.info({ step: 'setup', created }, 'created topics');
  });

  // Before anything is read: with outputs.format confluent, this registers the output schemas.
  const outputEncoder = await createOutputEncoder(t, {
    retry: { retries: 5, maxMs: 2_000, onRetry: (error, attempt, waitMs) => log.warn({ step: 'setup', attempt, waitMs, err: describeError(error) }, 'schema registry: retrying') },
  });
  if (t.outputs.format === 'confluent') log.info({ step: 'setup', registry: t.outputs.schemaRegistry?.url }, 'output schemas registered');

  let lastMessageAt = Date.now();
  let assigned = false;
  let restored: RestoredState | undefined;
  if (t.checkpoint) {
    const started = Date.now();
    const record = await readLatestCheckpoint(kafka, t.checkpoint.topic, checkpointKey(t.name, instance));
    if (record !== undefined) {
      restored = restoredFrom(record);
      log.info({ step: 'restore', version: restored.version, positions: restored.positions, ms: Date.now() - started }, 'restored checkpoint');
    }
  }

  const source = new KafkaSource({
    kafka,
    groupId,
    topics: t.source.topics,
    fromBeginning: t.source.start === 'earliest',
    maxInFlight: t.source.maxInFlight,
    maxInFlightBytes: t.source.maxInFlightBytes,
    ...(restored === undefined ? {} : { resumeFrom: restored.positions }),
    ...(options.sessionTimeout === undefined ? {} : { sessionTimeout: options.sessionTimeout, heartbeatInterval: Math.floor(options.sessionTimeout / 5) }),
    ...(t.guarantee === 'exactly-once' ? { consumerConfig: { readUncommitted: false } } : {}),
    onAssignment: (assignment, revoked) => {
      // Idleness counts from the moment there is something to read, not from a long group join.
      lastMessageAt = Date.now();
      assigned = true;
      log.info({ step: 'source', assignment, revoked }, 'partitions assigned');
      if (revoked.length > 0 && t.guarantee === 'exactly-once' && t.checkpoint !== null) rewind(revoked);
      else blockCommits = false;
    },
    // From here until the new assignment, nothing is committed: offsets of partitions about to move must
    // not run ahead of what their next owner will read.
    onRebalancing: () => {
      if (t.guarantee === 'exactly-once') blockCommits = true;
    },
  });

  const retry: RetryOptions = {
    retries: 10,
    maxMs: 5_000,
    onRetry: (error, attempt, waitMs) => log.warn({ step: 'commit', attempt, waitMs, err: describeError(error) }, 'retrying'),
  };
  let committer: Committer;
  if (t.guarantee === 'exactly-once') {
    const producer = kafka.producer({
      transactionalId: `tokrs-${t.name}-${instance}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    committer = exactlyOnce(producer, groupId, source, retry, t.outputs.compression);
  } else {
    const alo = atLeastOnce(kafka, t, source, retry);
    await alo.connect();
    committer = alo;
  }

  let state = new PipelineState();
  /** The last checkpoint known committed: what a rewind after losing partitions goes back to. */
  let lastCommitted: { record: CheckpointRecord | undefined; restored: RestoredState | undefined } = { record: undefined, restored };
  let blockCommits = false;
  let rewinds = 0;
  let checkpointVersion = restored?.version ?? 0;
  let checkpoints = 0;
  let processedSinceCheckpoint = 0;
  let lastCheckpointAt = Date.now();
  let pipelineSubscription: Subscription | undefined;
  let sourceSubscription: Subscription | undefined;
  let stopped = false;
  let failed: unknown;

  /** The checkpoint record of the state as it is now: only between messages, with nothing in flight. */
  const takeCheckpoint = (): { out: OutputRecord; record: CheckpointRecord } | undefined => {
    if (t.checkpoint === null || source.tracker.inFlight > 0) return undefined;
    checkpointVersion++;
    checkpoints++;
    processedSinceCheckpoint = 0;
    lastCheckpointAt = Date.now();
    const record = captureCheckpoint({
      topology: t.name,
      instance,
      runId,
      version: checkpointVersion,
      state,
      positions: source.tracker.positions(),
      now: Date.now(),
    });
    return { out: { topic: t.checkpoint.topic, key: checkpointKey(t.name, instance), ...encodeCheckpoint(record) }, record };
  };
  /** Commits and, once it is durable, remembers the checkpoint as the one to rewind to. */
  const commitWith = async (
    checkpoint: { out: OutputRecord; record: CheckpointRecord } | undefined,
    points: readonly CommitPoint[],
    outputs: readonly OutputRecord[],
  ): Promise<void> => {
    const started = Date.now();
    await committer.commit(checkpoint?.out, points, outputs);
    if (checkpoint !== undefined) {
      lastCommitted = { record: checkpoint.record, restored: undefined };
      log.info(
        { step: 'checkpoint', version: checkpoint.record.version, bytes: checkpoint.out.value.length, ms: Date.now() - started },
        'checkpoint committed',
      );
    }
  };
  const checkpointDue = (): boolean =>
    t.checkpoint !== null &&
    processedSinceCheckpoint > 0 &&
    (processedSinceCheckpoint >= t.checkpoint.everyMessages || Date.now() - lastCheckpointAt >= t.checkpoint.everyMs);

  let committing: Promise<void> = Promise.resolve();
  let holding = false;
  let inProgress = 0;
  /** Serialised: one commit (one transaction) at a time, in order. */
  const commit = (force: boolean): Promise<void> => {
    // While a commit is still on its way, a new checkpoint waits for the next chance rather than queueing
    // behind it: checkpoints may be megabytes, and a queue of them would only add memory and lag.
    if ((inProgress > 0 || blockCommits) && !force) return committing;
    const due = force || checkpointDue();
    if (due && t.checkpoint !== null && source.tracker.inFlight > 0) {
      // Asynchronous stages hold messages: pause the source until they drain, then checkpoint.
      if (holding) return committing;
      holding = true;
      inProgress++;
      committing = committing
        .then(async () => {
          const release = await source.hold();
          try {
            const checkpoint = takeCheckpoint();
            await commitWith(checkpoint, source.tracker.uncommitted(), committer.takeOutputs());
          } finally {
            holding = false;
            release();
          }
        })
        .finally(() => void inProgress--);
      return committing;
    }
    // The checkpoint is captured now, synchronously, so it matches the offsets captured with it.
    const checkpoint = due ? takeCheckpoint() : undefined;
    // Exactly-once commits only with a checkpoint: offsets must never run ahead of the committed state.
    if (t.guarantee === 'exactly-once' && checkpoint === undefined && !force) return committing;
    // Offsets and outputs are captured now, with the checkpoint: the pipeline is synchronous, so the outputs
    // queued so far are exactly those of the messages up to these offsets.
    const points = source.tracker.uncommitted();
    const outputs = committer.takeOutputs();
    inProgress++;
    committing = committing.then(() => commitWith(checkpoint, points, outputs)).finally(() => void inProgress--);
    if (checkpoint !== undefined) log.debug({ step: 'checkpoint', version: checkpointVersion, points }, 'checkpoint');
    return committing;
  };

  const onCommitError = (error: unknown): void => {
    // A failed commit (e.g. this process was fenced by a newer one) ends the run; nothing is lost: the last
    // committed checkpoint and offsets stay consistent, and a restart resumes from them.
    log.error({ step: 'commit', err: describeError(error) }, 'commit failed; stopping');
    failed ??= error;
    if (!stopped) {
      stopped = true;
      source.stop();
    }
  };

  let restartPipeline: (restore: RestoredState | undefined) => void = () => undefined;
  const finished = new Promise<RunSummary>((resolve, reject) => {
    const timer = setInterval(() => {
      commit(false).catch(onCommitError);
      if (options.idleExitMs !== undefined && assigned && !stopped && source.tracker.inFlight === 0 && Date.now() - lastMessageAt > options.idleExitMs) {
        log.info({ step: 'source', idleMs: Date.now() - lastMessageAt }, 'no new messages; stopping');
        stopped = true;
        source.stop();
      }
    }, options.commitIntervalMs ?? 1000);

    const lagTimer =
      options.metrics === undefined
        ? undefined
        : setInterval(() => {
            consumerLag(kafka, groupId, t.source.topics)
              .then((lag) => options.metrics?.setLag(lag))
              .catch(() => undefined);
          }, 5_000);
    const end = async (error?: unknown): Promise<void> => {
      clearInterval(timer);
      if (lagTimer !== undefined) clearInterval(lagTimer);
      error ??= failed;
      try {
        if (error === undefined) await commit(true);
        else await committing.catch(() => undefined);
        await committer.close();
      } catch (closeError) {
        error ??= closeError;
      }
      await source.close();
      const summary: RunSummary = {
        runId,
        seen: state.seen,
        labelled: state.labelled,
        deadLetters: { ...state.deadLetters },
        maxInFlight: source.maxObservedInFlight,
        checkpoints,
        restoredFrom: restored?.version ?? null,
        rewinds,
        coveredByCheckpoint: source.skipped,
        redelivered: source.redelivered,
      };
      log.info({ step: 'run', ...summary }, error === undefined ? 'stopped' : 'failed');
      if (error === undefined) resolve(summary);
      else reject(error instanceof Error ? error : new Error(describeError(error)));
    };

    const input$ = new Subject<RawMessage>();
    const startPipeline = (restore: RestoredState | undefined): void => {
      pipelineSubscription = input$
        .pipe(
          topologyPipeline(
            t,
            {
              runId,
              done: (position) => {
                lastMessageAt = Date.now();
                processedSinceCheckpoint++;
                source.done(position);
                // Every N messages, not only at the next tick: captured now, between two messages.
                if (t.checkpoint !== null && processedSinceCheckpoint >= t.checkpoint.everyMessages && source.tracker.inFlight === 0) {
                  commit(false).catch(onCommitError);
                }
              },
              positions: () => source.tracker.positions(),
              ...(restore === undefined ? {} : { restore }),
              ...(options.tokenizeStage === undefined ? {} : { tokenizeStage: options.tokenizeStage }),
            },
            state,
          ),
        )
        .subscribe({
          next(output) {
            const record = outputEncoder.encode(output);
            if (record !== undefined) committer.send(record);
            options.onOutput?.(output);
            options.metrics?.observe(output);
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
    };
    restartPipeline = startPipeline;
    startPipeline(restored);
    sourceSubscription = source.messages().subscribe(input$);
  });

  /**
   * After losing partitions to another member (exactly-once): this process's state includes messages of
   * those partitions past their committed offsets, which the new owner will process too. Going back to the
   * last committed checkpoint, for every partition, keeps each message counted once across the group.
   */
  const rewind = (revoked: readonly { topic: string; partition: number }[]): void => {
    source.block();
    rewinds++;
    void committing
      .catch(() => undefined)
      .then(async () => {
        committer.takeOutputs(); // Outputs of the discarded work: never published.
        const target = lastCommitted.restored ?? (lastCommitted.record === undefined ? undefined : restoredFrom(lastCommitted.record));
        const positions = [...(target?.positions ?? [])];
        // Partitions with no position in that checkpoint go back to the group's committed offset (another
        // member's work), or where the group starts reading when nothing was committed.
        const missing = Object.entries(source.assignment).flatMap(([topic, ps]) =>
          ps.filter((p) => !positions.some((x) => x.topic === topic && x.partition === p)).map((partition) => ({ topic, partition })),
        );
        if (missing.length > 0) {
          await withAdmin(kafka, async (admin) => {
            for (const topic of new Set(missing.map((m) => m.topic))) {
              const offsets = await admin.fetchTopicOffsets(topic);
              const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
              for (const m of missing.filter((x) => x.topic === topic)) {
                const c = committed.find((x) => x.partition === m.partition);
                const o = offsets.find((x) => x.partition === m.partition);
                if (c !== undefined && Number(c.offset) >= 0) positions.push({ topic, partition: m.partition, offset: c.offset });
                else if (o !== undefined) positions.push({ topic, partition: m.partition, offset: t.source.start === 'earliest' ? o.low : o.high });
              }
            }
          });
        }
        pipelineSubscription?.unsubscribe();
        state = new PipelineState();
        checkpointVersion = target?.version ?? 0;
        processedSinceCheckpoint = 0;
        restartPipeline(target);
        source.rewind(positions);
        log.info({ step: 'rebalance', revoked, checkpoint: target?.version ?? null }, 'partitions moved away: back to the last committed checkpoint');
      })
      .catch((error: unknown) => onCommitError(error))
      .finally(() => {
        blockCommits = false;
        source.unblock();
      });
  };

  return {
    runId,
    get state() {
      return state;
    },
    source,
    restored,
    finished,
    async stop() {
      if (!stopped) {
        stopped = true;
        source.stop();
      }
      const summary = await finished;
      pipelineSubscription?.unsubscribe();
      sourceSubscription?.unsubscribe();
      return summary;
    },
  };
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
