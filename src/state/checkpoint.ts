/**
 * Checkpoints, as dev.tokrs.Checkpoint records in a compacted state topic, of two kinds:
 *
 * - a process's state (key `topology/instance`): model with optimizer state, evaluator windows, training
 *   policy, pipeline counters, and the source positions it covers;
 * - a source partition's state (key `topology/partition/topic/p`, one `partitions` entry): its sampler with
 *   PRNG and the evaluator's totals over its messages, and the offset they cover. Whichever process holds
 *   the partition writes it, so the state moves with the partition when the group rebalances.
 *
 * Both are written together (in one transaction with exactly-once). Restoring them makes the learner,
 * sampler and evaluator go on as if nothing had happened.
 */
import type { Kafka } from 'kafkajs';
import { decodeRecord, encodeRecord, type EncodedRecord } from '../codec/avro.js';
import { withRetry } from '../kafka/retry.js';
import { toSourceOffsets } from '../codec/mapping.js';
import { SCHEMA_NAMES, type CheckpointRecord } from '../codec/records.js';
import { ERROR_CODES, TokrsError } from '../errors.js';
import type { EvaluatorSnapshot } from '../evaluate/evaluator.js';
import type { ModelSnapshot } from '../learn/classifier.js';
import type { PolicySnapshot } from '../learn/policy.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../learn/snapshot-codec.js';
import type { RandomState } from '../sample/random.js';
import type { PipelineState } from '../topology/pipeline.js';
import type { SourcePosition } from '../topology/record.js';
import { partitionKey } from './partition-state.js';

/**
 * Version of the byte formats inside a checkpoint record.
 * - 1: one sampler per process, in `sampler`.
 * - 2: samplers per source partition, in partition records; `counters` carries the replay draws' PRNG.
 */
export const CHECKPOINT_FORMAT = 2;
const READABLE_FORMATS: readonly number[] = [1, 2];

export interface PipelineCounters {
  seen: number;
  labelled: number;
  deadLetters: Record<string, number>;
  snapshotVersion: number;
  tokenize: { messages: number; tokens: number; truncated: number; empty: number; rejected: number };
  /** The PRNG that picks partitions for replay draws (format 2). */
  draws?: RandomState;
}

/** What a pipeline resumes from. */
export interface RestoredState {
  version: number;
  model?: ModelSnapshot;
  /** The process's sampler of a format-1 checkpoint: one for all partitions, which format 2 cannot use. */
  discardedSampler?: boolean;
  draws?: RandomState;
  evaluator?: EvaluatorSnapshot;
  policy?: PolicySnapshot;
  counters?: PipelineCounters;
  positions: SourcePosition[];
}

export const checkpointKey = (topology: string, instance: string): string => `${topology}/${instance}`;

/** Key of a source partition's state. `/partition/` cannot clash with an instance key: names have no `/`. */
export const partitionCheckpointKey = (topology: string, topic: string, partition: number): string => `${topology}/partition/${topic}/${partition}`;

/** A partition's state as its last owner committed it. */
export interface PartitionCheckpoint {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to process: the state covers the messages before it. */
  readonly offset: string;
  readonly state: Uint8Array;
  readonly version: number;
  readonly instance: string | null;
}

/** Whose state, which checkpoint, and the source positions it covers. */
export interface CaptureInput {
  topology: string;
  instance: string;
  runId: string;
  version: number;
  state: PipelineState;
  positions: readonly SourcePosition[];
  now: number;
}

/**
 * The checkpoint of a pipeline's state as it is now. Call it only between messages (nothing in flight),
 * so the state is exactly that of the messages up to `positions`.
 */
export function captureCheckpoint(input: CaptureInput): CheckpointRecord {
  const { state } = input;
  const learner = state.learner.current;
  // A pipeline that has learned is checkpointed with its model, or not at all: a record without it would
  // restore counters that claim messages no model has learned from.
  if (learner === undefined && state.labelled > 0) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `checkpoint ${input.version} of ${input.topology}: the learner is not attached (its pipeline has ended) although ${state.labelled} labelled messages were processed; capture checkpoints between messages of a running pipeline`,
    );
  }
  const counters: PipelineCounters = {
    seen: state.seen,
    labelled: state.labelled,
    deadLetters: { ...state.deadLetters },
    snapshotVersion: state.snapshotVersion,
    tokenize: { ...state.tokenize },
    ...(state.partitions === undefined ? {} : { draws: state.partitions.sampler.drawState() }),
  };
  return {
    topology: input.topology,
    runId: input.runId,
    version: input.version,
    formatVersion: CHECKPOINT_FORMAT,
    partitions: [],
    model: learner === undefined ? null : Buffer.from(encodeModelSnapshot(learner.model.snapshot())),
    instance: input.instance,
    sampler: null,
    evaluator: learner?.evaluator === undefined ? null : JSON.stringify(learner.evaluator.snapshot()),
    policy: learner === undefined ? null : JSON.stringify(learner.policy.snapshot()),
    counters: JSON.stringify(counters),
    sourceOffsets: toSourceOffsets(input.positions),
    createdAt: input.now,
  };
}

/**
 * The records of the partitions whose state changed since the last call (`PartitionStates.takeChanged`),
 * at `positions`. Same rule as `captureCheckpoint`: only between messages.
 */
export function capturePartitionCheckpoints(input: CaptureInput): { key: string; record: CheckpointRecord }[] {
  const states = input.state.partitions;
  if (states === undefined) return [];
  const out: { key: string; record: CheckpointRecord }[] = [];
  for (const key of states.takeChanged()) {
    const position = input.positions.find((p) => partitionKey(p.topic, p.partition) === key);
    // Messages without a Kafka partition (file replays) have no offset to resume from: nothing to write.
    if (position === undefined) continue;
    const record: CheckpointRecord = {
      topology: input.topology,
      runId: input.runId,
      version: input.version,
      formatVersion: CHECKPOINT_FORMAT,
      partitions: [{ topic: position.topic, partition: position.partition, offset: Number(position.offset), state: Buffer.from(states.encode(key)) }],
      model: null,
      instance: input.instance,
      sourceOffsets: toSourceOffsets([position]),
      createdAt: input.now,
    };
    out.push({ key: partitionCheckpointKey(input.topology, position.topic, position.partition), record });
  }
  return out;
}

export function partitionCheckpointFrom(record: CheckpointRecord): PartitionCheckpoint {
  const [p, ...more] = record.partitions ?? [];
  if (p === undefined || more.length > 0 || !READABLE_FORMATS.includes(record.formatVersion)) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `partition checkpoint ${record.version} of ${record.topology} holds ${record.partitions?.length ?? 0} partitions (format ${record.formatVersion}); expected one, format ${CHECKPOINT_FORMAT}. Delete the state topic's record to start the partition afresh.`,
    );
  }
  return { topic: p.topic, partition: p.partition, offset: String(p.offset), state: p.state, version: record.version, instance: record.instance ?? null };
}

function parseJson<T>(text: string | null | undefined, what: string): T | undefined {
  if (text === null || text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `checkpoint ${what} is not valid JSON`, { cause: error });
  }
}

export function restoredFrom(record: CheckpointRecord): RestoredState {
  if (!READABLE_FORMATS.includes(record.formatVersion)) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `checkpoint ${record.version} of ${record.topology} has format ${record.formatVersion}; this tokrs reads formats ${READABLE_FORMATS.join(' and ')}. Delete the state topic's record to start afresh.`,
    );
  }
  const out: RestoredState = {
    version: record.version,
    positions: (record.sourceOffsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
  };
  if (record.model) out.model = decodeModelSnapshot(record.model);
  if (record.formatVersion === 1 && record.sampler) out.discardedSampler = true;
  const evaluator = parseJson<EvaluatorSnapshot>(record.evaluator, 'evaluator');
  if (evaluator !== undefined) out.evaluator = evaluator;
  const policy = parseJson<PolicySnapshot>(record.policy, 'policy');
  if (policy !== undefined) out.policy = policy;
  const counters = parseJson<PipelineCounters>(record.counters, 'counters');
  if (counters !== undefined) out.counters = counters;
  if (counters?.draws !== undefined) out.draws = counters.draws;
  return out;
}

export function encodeCheckpoint(record: CheckpointRecord): EncodedRecord {
  return encodeRecord(SCHEMA_NAMES.checkpoint, record);
}

/**
 * The latest committed checkpoint for `key` in the state topic, read with read_committed (a checkpoint
 * of an aborted transaction is never seen), or undefined when there is none.
 */
export async function readLatestCheckpoint(kafka: Kafka, topic: string, key: string): Promise<CheckpointRecord | undefined> {
  return (await readLatestCheckpoints(kafka, topic, (k) => k === key)).get(key);
}

/** The latest committed checkpoint of every key `wanted` accepts, by key (see `readLatestCheckpoint`). */
export async function readLatestCheckpoints(kafka: Kafka, topic: string, wanted: (key: string) => boolean): Promise<Map<string, CheckpointRecord>> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    // ListOffsets with read_committed isolation: the last stable offset, past which nothing is visible.
    // Retried: a state topic created a moment ago (by this process or another one starting with it) may
    // not have a leader yet.
    ends = (await withRetry(() => admin.fetchTopicOffsets(topic), { retries: 10, maxMs: 1000 })).map((o) => ({ partition: o.partition, high: o.high, low: o.low }));
  } finally {
    await admin.disconnect();
  }
  const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high) - 1n]));
  const latest = new Map<string, CheckpointRecord>();
  if (pending.size === 0) return latest;
  // Checkpoints of a 2^20-bucket model are megabytes: fetch them whole instead of growing the fetch size.
  const consumer = kafka.consumer({
    groupId: `tokrs-restore-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    maxBytesPerPartition: 64 * 1024 * 1024,
    maxBytes: 128 * 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let lastActivity = Date.now();
    let received = false;
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        lastActivity = Date.now();
        received = true;
        for (const message of batch.messages) {
          const key = message.key?.toString();
          if (key === undefined || !wanted(key)) continue;
          // A tombstone (null value) deletes the key's state.
          if (message.value === null) latest.delete(key);
          else latest.set(key, decodeRecord(SCHEMA_NAMES.checkpoint, message.value, message.headers));
        }
        // Transaction markers and aborted records are not delivered, so the last visible offset can be
        // below the end; the batch's last offset (markers included) tells how far the log was read.
        const last = BigInt(batch.lastOffset());
        const end = pending.get(batch.partition);
        if (end !== undefined && last >= end) pending.delete(batch.partition);
      },
    });
    const started = Date.now();
    // Done when every partition was read to its end. A log that ends in transaction markers may never
    // report its last offset, so a quiet second after the first batch also ends the read (the group join
    // before the first batch can take longer than that, hence not before it).
    while (pending.size > 0 && !(received && Date.now() - lastActivity > 1000) && !(!received && Date.now() - started > 20_000)) {
      if (Date.now() - started > 60_000) throw new TokrsError(ERROR_CODES.KAFKA, `reading checkpoints from ${topic} took over 60 s`, { retriable: true });
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  return latest;
}
