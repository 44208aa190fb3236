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
 *   restarted process fences its own zombie. Before it rejoins its group (a rebalance), a process commits
 *   everything it processed, so the partitions it gives up are handed over exactly (prepareRejoin).
 */
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { Subject, type Subscription } from 'rxjs';
import type { RawMessage } from '../codec/decode-operator.js';
import type { CheckpointRecord } from '../codec/records.js';
import { describeError } from '../errors.js';
import { ensureTopics, withAdmin, type TopicSpec } from '../kafka/admin.js';
import type { Kafka } from '../kafka/client.js';
import { loadCodec } from '../kafka/codecs.js';
import { COMPRESSION, KafkaSink, MAX_REQUEST_BYTES, chunksOf, type Compression, type OutputRecord } from '../kafka/sink.js';
import { isGroupMovedOnError, withRetry, type RetryOptions } from '../kafka/retry.js';
import type { CommitPoint } from '../kafka/offset-tracker.js';
import { KafkaSource } from '../kafka/source.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import type { TopologyMetrics } from '../observe/prometheus.js';
import {
  captureCheckpoint,
  capturePartitionCheckpoints,
  checkpointKey,
  encodeCheckpoint,
  partitionCheckpointFrom,
  readLatestCheckpoints,
  restoredFrom,
  type PartitionCheckpoint,
  type RestoredState,
} from '../state/checkpoint.js';
import { partitionKey } from '../state/partition-state.js';
import { ModelAveraging } from './model-averaging.js';
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
  /** Times this process went back to its last committed checkpoint (it was out of its group for a while). */
  rewinds: number;
  /** Times this process committed everything it had processed before rejoining its group (a rebalance). */
  handovers: number;
  /** Messages passed over because the restored checkpoint already covered them. */
  coveredByCheckpoint: number;
  /** Messages the consumer delivered again (after a restart or rebalance) and that were passed over. */
  redelivered: number;
  /** Times the model was averaged with other processes' snapshots, and snapshots averaged in. */
  averages: number;
  averagedIn: number;
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
   * Makes durable the outputs sent so far and the offsets `points` (captured together with `checkpoints`,
   * the process's and its partitions', so the offsets never run ahead of the state), atomically where the
   * guarantee says so.
   */
  commit(checkpoints: readonly OutputRecord[], points: readonly CommitPoint[], outputs: readonly OutputRecord[], mayCommit: () => Promise<boolean>): Promise<void>;
  /** Takes the outputs queued so far (synchronously, with the checkpoint and points they belong to). */
  takeOutputs(): OutputRecord[];
  close(): Promise<void>;
}

function atLeastOnce(kafka: Kafka, t: Topology, source: KafkaSource, retry: RetryOptions, log: Logger): Committer & { connect(): Promise<void> } {
  const sink = new KafkaSink({ kafka, compression: t.outputs.compression, retry });
  return {
    connect: () => sink.connect(),
    send: (record) => sink.send(record),
    // The sink keeps its own queue: flushing more than the points cover is fine at least once.
    takeOutputs: () => [],
    async commit(checkpoints, points) {
      for (const checkpoint of checkpoints) sink.send(checkpoint);
      await sink.flush();
      try {
        await withRetry(() => source.commit(points), retry);
      } catch (error) {
        // A rebalance under this commit: the offsets stay uncommitted (the next commit tries again for the
        // partitions still held), and any partition that moved is read again from its last commit. That is
        // at least once; stopping the run over it, as before, also stopped its healthy partitions.
        if (!isGroupMovedOnError(error)) throw error;
        log.warn({ step: 'commit', err: describeError(error), points: points.length }, 'the group rebalanced under this offset commit; not committed, going on');
      }
    },
    close: () => sink.close(),
  };
}

function exactlyOnce(producer: Producer, groupId: string, source: KafkaSource, retry: RetryOptions, compression: Compression): Committer {
  loadCodec(compression); // a codec that does not load here is refused at start, not at the first commit
  let pending: OutputRecord[] = [];
  return {
    send: (record) => void pending.push(record),
    takeOutputs() {
      const taken = pending;
      pending = [];
      return taken;
    },
    async commit(checkpoints, points, outputs, mayCommit) {
      if (checkpoints.length === 0 && outputs.length === 0 && points.length === 0) return;
      const records = [...outputs, ...checkpoints];
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
          // Asked at the last moment (the state may have become another member's while it was sent): a
          // member dropped from its group must not commit, its partitions' next owners may already have
          // read the offsets this would overwrite.
          if (!(await mayCommit())) throw new DroppedFromGroup();
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
  const exactlyOnceCheckpoints = t.guarantee === 'exactly-once' && t.checkpoint !== null;
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
  /**
   * The partitions' states as last read from the state topic, by partition key. Read once at start with the
   * process's checkpoint; read again when a partition is assigned whose state may have changed since.
   */
  let partitionCheckpoints = new Map<string, PartitionCheckpoint>();
  const partitionPrefix = `${t.name}/partition/`;
  const readPartitionCheckpoints = async (alsoKey?: string) => {
    const records = await readLatestCheckpoints(kafka, t.checkpoint!.topic, (k) => k === alsoKey || k.startsWith(partitionPrefix));
    partitionCheckpoints = new Map();
    for (const [key, record] of records) {
      if (!key.startsWith(partitionPrefix)) continue;
      const p = partitionCheckpointFrom(record);
      partitionCheckpoints.set(partitionKey(p.topic, p.partition), p);
    }
    return records;
  };
  if (t.checkpoint) {
    const started = Date.now();
    const record = (await readPartitionCheckpoints(checkpointKey(t.name, instance))).get(checkpointKey(t.name, instance));
    if (record !== undefined) {
      restored = restoredFrom(record);
      log.info(
        { step: 'restore', version: restored.version, positions: restored.positions, partitionStates: partitionCheckpoints.size, ms: Date.now() - started },
        'restored checkpoint',
      );
      if (restored.discardedSampler) {
        log.warn({ step: 'restore' }, 'the checkpoint (format 1) holds one reservoir for all partitions; reservoirs are kept per partition now and start empty');
      }
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
      // Partitions moved while this process's state was ahead of its commits: that state is no longer its own.
      if (exactlyOnceCheckpoints && revoked.length > 0 && !handedOver) stale = true;
      handedOver = false;
      for (const r of revoked) {
        // Its state went with the handover commit (or, stale, the rewind reloads everything).
        state.partitions?.drop(partitionKey(r.topic, r.partition));
        adopted.delete(partitionKey(r.topic, r.partition));
      }
      if (stale) rewind(revoked);
      else adopt(assignment);
    },
    // From here until the new assignment, nothing is committed: offsets of partitions about to move must
    // not run ahead of what their next owner will read.
    onRebalancing: () => {
      if (t.guarantee === 'exactly-once') blockCommits = true;
    },
    ...(exactlyOnceCheckpoints ? { beforeRejoin: (isLost: boolean) => prepareRejoin(isLost) } : {}),
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
    const alo = atLeastOnce(kafka, t, source, retry, log);
    await alo.connect();
    committer = alo;
  }

  // Started before the source, so the snapshots other processes publish from now on are seen.
  const averaging =
    t.average !== null && t.outputs.snapshots !== null
      ? new ModelAveraging({
          kafka,
          topology: t.name,
          topic: t.outputs.snapshots.topic,
          instance,
          maxAgeMs: t.average.maxAgeMs,
          readCommitted: t.guarantee === 'exactly-once',
          log,
        })
      : undefined;
  await averaging?.start();

  let state = new PipelineState();
  /** The last checkpoint known committed: what a rewind after losing partitions goes back to. */
  let lastCommitted: { record: CheckpointRecord | undefined; restored: RestoredState | undefined } = { record: undefined, restored };
  let blockCommits = false;
  let rewinds = 0;
  /** Everything processed was committed before this member rejoined: its state matches what it hands over. */
  let handedOver = false;
  /**
   * This process's state counts messages that other members process too (it was out of its group, or
   * partitions moved before it could commit): it is never committed, only rewound.
   */
  let stale = false;
  let handovers = 0;
  let rewinding: Promise<void> = Promise.resolve();
  /** Settles when the run's final commit is done: true when it committed everything, its offsets visible. */
  let finalCommitted: (done: boolean) => void = () => undefined;
  const finalCommit = new Promise<boolean>((resolve) => (finalCommitted = resolve));
  let checkpointVersion = restored?.version ?? 0;
  let checkpoints = 0;
  let processedSinceCheckpoint = 0;
  let lastCheckpointAt = Date.now();
  let pipelineSubscription: Subscription | undefined;
  let sourceSubscription: Subscription | undefined;
  let stopped = false;
  let failed: unknown;

  /** The checkpoint record of the state as it is now: only between messages, with nothing in flight. */
  const takeCheckpoint = (): TakenCheckpoint | undefined => {
    if (t.checkpoint === null || source.tracker.inFlight > 0) return undefined;
    // The pipeline has ended (its learner is detached): its final state was captured when it completed.
    if (state.learner.current === undefined && state.labelled > 0) return undefined;
    checkpointVersion++;
    checkpoints++;
    processedSinceCheckpoint = 0;
    lastCheckpointAt = Date.now();
    const at = { topology: t.name, instance, runId, version: checkpointVersion, state, positions: source.tracker.positions(), now: Date.now() };
    const record = captureCheckpoint(at);
    const topic = t.checkpoint.topic;
    return {
      out: { topic, key: checkpointKey(t.name, instance), ...encodeCheckpoint(record) },
      record,
      generation: source.generation,
      partitions: capturePartitionCheckpoints(at).map((p) => ({ topic, key: p.key, ...encodeCheckpoint(p.record) })),
    };
  };
  /** Commits and, once it is durable, remembers the checkpoint as the one to rewind to. */
  const commitWith = async (
    checkpoint: TakenCheckpoint | undefined,
    points: readonly CommitPoint[],
    outputs: readonly OutputRecord[],
  ): Promise<void> => {
    const started = Date.now();
    try {
      const generation = checkpoint?.generation ?? source.generation;
      // The state was captured under this member's join `generation`. After a rejoin since (one the
      // before-rejoin hook did not see: the member had been dropped), after partitions moved while it was
      // ahead of its commits (stale), or once the coordinator no longer lists the member, it is not this
      // member's to commit.
      const mayCommit = async (): Promise<boolean> => !stale && source.generation === generation && (await source.isMember());
      await committer.commit(checkpoint === undefined ? [] : [checkpoint.out, ...checkpoint.partitions], points, outputs, mayCommit);
    } catch (error) {
      if (!(error instanceof DroppedFromGroup)) throw error;
      // Nothing was committed. This process's state counts messages that others may have processed since:
      // it goes back to its last committed checkpoint. Already rejoined: now. Not yet: at the assignment of
      // its rejoin (the heartbeats of the blocked source make KafkaJS notice within a second).
      log.warn({ step: 'commit', version: checkpoint?.record.version ?? null }, 'dropped from the consumer group (stalled past the session timeout?); not committing, going back to the last committed checkpoint');
      // Already stale: the assignment that made it so has queued the rewind.
      if (stale) return;
      stale = true;
      if (checkpoint !== undefined && source.generation !== checkpoint.generation) rewind([]);
      else source.block();
      return;
    }
    if (checkpoint !== undefined) {
      lastCommitted = { record: checkpoint.record, restored: undefined };
      log.info(
        {
          step: 'checkpoint',
          version: checkpoint.record.version,
          bytes: checkpoint.out.value.length,
          partitions: checkpoint.partitions.length,
          partitionBytes: checkpoint.partitions.reduce((n, p) => n + p.value.length, 0),
          ms: Date.now() - started,
        },
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
    if (stale) return committing;
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
            if (t.guarantee === 'exactly-once' && checkpoint === undefined) {
              log.warn({ step: 'checkpoint', inFlight: source.tracker.inFlight }, 'messages still in flight after 30 s; checkpoint postponed');
              return;
            }
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
    // Exactly-once commits only with a checkpoint: offsets (and outputs) must never run ahead of the
    // committed state, not even at the end of a run.
    if (t.guarantee === 'exactly-once' && checkpoint === undefined) return committing;
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

  let restartPipeline: (restore: RestoredState | undefined, partitions?: ReadonlyMap<string, Uint8Array>) => void = () => undefined;
  const finished = new Promise<RunSummary>((resolve, reject) => {
    const timer = setInterval(() => {
      commit(false).catch(onCommitError);
      if (options.idleExitMs !== undefined && assigned && !stopped && source.tracker.inFlight === 0 && Date.now() - lastMessageAt > options.idleExitMs) {
        log.info({ step: 'source', idleMs: Date.now() - lastMessageAt }, 'no new messages; stopping');
        stopped = true;
        source.stop();
      }
    }, options.commitIntervalMs ?? 1000);

    const averageTimer =
      averaging === undefined || t.average === null
        ? undefined
        : setInterval(() => {
            const model = state.learner.current?.model;
            // A stale state is about to be rewound: nothing it does is kept.
            if (model === undefined || stale || stopped) return;
            try {
              const started = Date.now();
              const mixed = averaging.averageInto(model);
              if (mixed.length > 0) log.info({ step: 'average', with: mixed, ms: Date.now() - started }, 'averaged the model with other processes');
            } catch (error) {
              // An incompatible snapshot (another hash space or optimizer) leaves this model as it was.
              log.warn({ step: 'average', err: describeError(error) }, 'could not average the model; keeping it');
            }
          }, t.average.everyMs);
    const lagTimer =
      options.metrics === undefined
        ? undefined
        : setInterval(() => {
            consumerLag(kafka, groupId, t.source.topics)
              .then((lag) => options.metrics?.setLag(lag))
              .catch(() => undefined);
          }, 5_000);
    let ended = false;
    const end = async (error?: unknown): Promise<void> => {
      ended = true;
      clearInterval(timer);
      if (lagTimer !== undefined) clearInterval(lagTimer);
      if (averageTimer !== undefined) clearInterval(averageTimer);
      // Nothing may be awaited before `commit(true)` below: it captures the final checkpoint synchronously,
      // while the pipeline that just completed still has its learner attached (its teardown detaches it).
      error ??= failed;
      try {
        if (error === undefined) {
          await commit(true);
          // Before leaving the group: the members that take this one's partitions must read these offsets.
          if (exactlyOnceCheckpoints && !stale) await committedOffsetsReach(source.tracker.positions());
          finalCommitted(!stale);
        } else await committing.catch(() => undefined);
        finalCommitted(false);
        await averaging?.stop().catch(() => undefined);
        await committer.close();
      } catch (closeError) {
        finalCommitted(false);
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
        handovers,
        coveredByCheckpoint: source.skipped,
        redelivered: source.redelivered,
        averages: averaging?.averages ?? 0,
        averagedIn: averaging?.mixedIn ?? 0,
      };
      log.info({ step: 'run', ...summary }, error === undefined ? 'stopped' : 'failed');
      if (error === undefined) resolve(summary);
      else reject(error instanceof Error ? error : new Error(describeError(error)));
    };

    const input$ = new Subject<RawMessage>();
    const startPipeline = (restore: RestoredState | undefined, partitions?: ReadonlyMap<string, Uint8Array>): void => {
      pipelineSubscription = input$
        .pipe(
          topologyPipeline(
            t,
            {
              runId,
              instance,
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
              ...(restore === undefined && partitions === undefined ? {} : { restore: { ...restore, ...(partitions === undefined ? {} : { partitions }) } }),
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
    // A pipeline that failed as it started (a tokenizer or model that cannot be built here) has ended the
    // run already: the consumer must not start, or it would join the group and hold partitions for nothing.
    if (!ended) sourceSubscription = source.messages().subscribe(input$);
  });

  /**
   * Exactly-once, before this member rejoins its group (see kafka/before-rejoin.ts): commits everything
   * processed so far, with a checkpoint, and waits until the group's coordinator answers those offsets.
   * The rebalance cannot complete before this member rejoins, so the partitions' next owners read offsets
   * that no commit of this member will overwrite, and this member's committed state counts exactly the
   * messages below them: nothing needs to be undone afterwards, whatever partitions move. Messages stay
   * blocked until the new assignment. A member that was out of the group (`isLost`) must not commit: its
   * partitions may already have been read by others; it goes back to its last committed checkpoint.
   */
  const prepareRejoin = async (isLost: boolean): Promise<void> => {
    blockCommits = true;
    source.block();
    if (isLost) {
      stale = true;
      return;
    }
    await rewinding;
    if (stale) return;
    if (stopped) {
      // The run is ending: its final commit (which may already have closed the producer) is the handover.
      handedOver = await finalCommit;
      return;
    }
    try {
      const started = Date.now();
      await commit(true);
      // Dropped from the group while committing: nothing was committed, the assignment rewinds.
      if (stale) return;
      if (processedSinceCheckpoint > 0 || source.tracker.inFlight > 0) {
        // Not all of it could be checkpointed (messages stuck in an asynchronous stage): the assignment
        // then rewinds this member if it loses partitions.
        log.warn({ step: 'rebalance', inFlight: source.tracker.inFlight, processedSinceCheckpoint }, 'could not commit everything before rejoining');
        return;
      }
      const positions = source.tracker.positions();
      await committedOffsetsReach(positions);
      handedOver = true;
      handovers++;
      log.info({ step: 'rebalance', positions, ms: Date.now() - started }, 'committed everything before rejoining the group');
    } catch (error) {
      // The run stops; the last committed checkpoint and offsets stay consistent for the next owners.
      onCommitError(error);
    }
  };

  /**
   * Resolves once the group's committed offsets have reached `points`. The transaction coordinator answers
   * EndTxn before its commit markers are written, and until the marker reaches __consumer_offsets an
   * OffsetFetch (KafkaJS sends v1-v4, without KIP-447's require_stable) still answers the previous offsets.
   */
  const committedOffsetsReach = async (points: readonly CommitPoint[]): Promise<void> => {
    if (points.length === 0) return;
    const deadline = Date.now() + 15_000;
    await withAdmin(kafka, async (admin) => {
      for (;;) {
        const committed = await admin.fetchOffsets({ groupId, topics: [...new Set(points.map((p) => p.topic))] });
        const behind = points.filter((p) => {
          const c = committed.find((x) => x.topic === p.topic)?.partitions.find((x) => x.partition === p.partition);
          return c === undefined || BigInt(c.offset) < BigInt(p.offset);
        });
        if (behind.length === 0) return;
        if (Date.now() > deadline) {
          log.warn({ step: 'rebalance', behind }, 'committed offsets not visible after 15 s; rejoining anyway');
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  };

  /** Partitions whose state this process has taken over (or started afresh) since it was assigned them. */
  const adopted = new Set<string>();

  /**
   * The committed states of `partitions`, where each continues (its state's offset; without a state, the
   * group's committed offset or, with none, where the group starts reading), and the partitions where that
   * is not the group's committed offset. With exactly-once a partition's state and the group's offset are
   * committed in one transaction, so a state read earlier whose offset equals the committed offset is still
   * the latest; otherwise the state topic is read again.
   */
  const partitionStatesOf = async (
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ states: Map<string, Uint8Array>; positions: CommitPoint[]; moved: CommitPoint[] }> => {
    const committed = new Map<string, string>();
    const starts = new Map<string, string>();
    await withAdmin(kafka, async (admin) => {
      for (const topic of new Set(partitions.map((p) => p.topic))) {
        for (const c of (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []) {
          if (Number(c.offset) >= 0) committed.set(partitionKey(topic, c.partition), c.offset);
        }
        for (const o of await admin.fetchTopicOffsets(topic)) starts.set(partitionKey(topic, o.partition), t.source.start === 'earliest' ? o.low : o.high);
      }
    });
    const keys = partitions.map((p) => partitionKey(p.topic, p.partition));
    const current = keys.every((key) => {
      const known = partitionCheckpoints.get(key);
      return known === undefined ? exactlyOnceCheckpoints && !committed.has(key) : exactlyOnceCheckpoints && known.offset === committed.get(key);
    });
    if (t.checkpoint !== null && !current) await readPartitionCheckpoints();
    const states = new Map<string, Uint8Array>();
    const positions: CommitPoint[] = [];
    const moved: CommitPoint[] = [];
    partitions.forEach(({ topic, partition }, i) => {
      const key = keys[i]!;
      const known = partitionCheckpoints.get(key);
      if (known !== undefined) states.set(key, known.state);
      const offset = known?.offset ?? committed.get(key) ?? starts.get(key);
      if (offset === undefined) return;
      positions.push({ topic, partition, offset });
      if (offset !== committed.get(key)) moved.push({ topic, partition, offset });
    });
    return { states, positions, moved };
  };

  /**
   * After an assignment: takes over the committed state of each partition this process did not hold (its
   * previous owner committed it before giving the partition up), and continues each where its state does.
   * Messages stay blocked until then.
   */
  const adopt = (assignment: Record<string, number[]>): void => {
    const fresh = heldPartitions(assignment).filter((p) => !adopted.has(partitionKey(p.topic, p.partition)));
    if (t.checkpoint === null || fresh.length === 0) {
      for (const p of fresh) adopted.add(partitionKey(p.topic, p.partition));
      blockCommits = false;
      source.unblock();
      return;
    }
    source.block();
    blockCommits = true;
    rewinding = rewinding
      .then(async () => {
        if (stopped) return;
        const started = Date.now();
        const { states, moved } = await partitionStatesOf(fresh);
        for (const [key, bytes] of states) state.partitions?.install(key, bytes);
        source.seekTo(moved);
        for (const p of fresh) adopted.add(partitionKey(p.topic, p.partition));
        log.info(
          { step: 'rebalance', partitions: fresh.map((p) => partitionKey(p.topic, p.partition)), states: [...states.keys()], moved, ms: Date.now() - started },
          'took over partition states',
        );
      })
      .catch((error: unknown) => onCommitError(error))
      .finally(() => {
        blockCommits = false;
        source.unblock();
      });
  };

  /**
   * Exactly-once, after partitions moved while this process's state was ahead of its last commit (it was
   * out of the group, or it could not commit before rejoining): that state includes messages that their
   * new owner processes too. Going back to the last committed checkpoint, and reading every partition held
   * now from the group's committed offset, keeps each message counted once across the group: the offsets
   * this member committed with that checkpoint are where it stopped counting, and any later commit of a
   * partition was another member's, whose checkpoint counts the messages in between.
   */
  const rewind = (revoked: readonly { topic: string; partition: number }[]): void => {
    // A run that is ending is not rewound: it ends without committing its stale state.
    if (stopped) return;
    source.block();
    rewinds++;
    rewinding = rewinding
      .then(() => committing)
      .catch(() => undefined)
      .then(async () => {
        if (stopped) return;
        committer.takeOutputs(); // Outputs of the discarded work: never published.
        const target = lastCommitted.restored ?? (lastCommitted.record === undefined ? undefined : restoredFrom(lastCommitted.record));
        const held = heldPartitions(source.assignment);
        const { states, positions } = await partitionStatesOf(held);
        pipelineSubscription?.unsubscribe();
        state = new PipelineState();
        checkpointVersion = target?.version ?? 0;
        processedSinceCheckpoint = 0;
        restartPipeline(target, states);
        source.rewind(positions);
        adopted.clear();
        for (const p of held) adopted.add(partitionKey(p.topic, p.partition));
        stale = false;
        log.info({ step: 'rebalance', revoked, checkpoint: target?.version ?? null, positions }, 'back to the last committed checkpoint');
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

/** The group no longer lists this member: it must not commit (see `KafkaSource.isMember`). */
class DroppedFromGroup extends Error {
  constructor() {
    super('this member was dropped from its consumer group');
  }
}

/** A checkpoint taken between two messages: the process's record and those of its changed partitions. */
interface TakenCheckpoint {
  out: OutputRecord;
  record: CheckpointRecord;
  /** The consumer's join generation when it was taken (see `KafkaSource.generation`). */
  generation: number;
  partitions: OutputRecord[];
}

const heldPartitions = (assignment: Record<string, number[]>): { topic: string; partition: number }[] =>
  Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
