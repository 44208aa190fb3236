/**
 * Checkpoints: the whole state of one process of a topology — model with optimizer state, reservoir with
 * its PRNG, evaluator windows, training policy, pipeline counters — and the source positions it covers,
 * as one dev.tokrs.Checkpoint record in a compacted state topic (key `topology/instance`). Restoring it
 * makes the learner, sampler and evaluator go on as if the process had never stopped.
 */
import type { Kafka } from 'kafkajs';
import { decodeRecord, encodeRecord, type EncodedRecord } from '../codec/avro.js';
import { toSourceOffsets } from '../codec/mapping.js';
import { SCHEMA_NAMES, type CheckpointRecord } from '../codec/records.js';
import { ERROR_CODES, TokrsError } from '../errors.js';
import type { EvaluatorSnapshot } from '../evaluate/evaluator.js';
import type { ModelSnapshot } from '../learn/classifier.js';
import type { PolicySnapshot } from '../learn/policy.js';
import { decodeModelSnapshot, encodeModelSnapshot } from '../learn/snapshot-codec.js';
import type { SamplerSnapshot } from '../sample/sampler.js';
import type { PipelineState } from '../topology/pipeline.js';
import type { Example, SourcePosition } from '../topology/record.js';
import { decodeSamplerSnapshot, encodeSamplerSnapshot } from './example-codec.js';

/** Version of the byte formats inside a checkpoint record. */
export const CHECKPOINT_FORMAT = 1;

export interface PipelineCounters {
  seen: number;
  labelled: number;
  deadLetters: Record<string, number>;
  snapshotVersion: number;
  tokenize: { messages: number; tokens: number; truncated: number; empty: number; rejected: number };
}

/** What a pipeline resumes from. */
export interface RestoredState {
  version: number;
  model?: ModelSnapshot;
  sampler?: SamplerSnapshot<Example>;
  evaluator?: EvaluatorSnapshot;
  policy?: PolicySnapshot;
  counters?: PipelineCounters;
  positions: SourcePosition[];
}

export const checkpointKey = (topology: string, instance: string): string => `${topology}/${instance}`;

/**
 * The checkpoint of a pipeline's state as it is now. Call it only between messages (nothing in flight),
 * so the state is exactly that of the messages up to `positions`.
 */
export function captureCheckpoint(input: {
  topology: string;
  instance: string;
  runId: string;
  version: number;
  state: PipelineState;
  positions: readonly SourcePosition[];
  now: number;
}): CheckpointRecord {
  const { state } = input;
  const learner = state.learner.current;
  const counters: PipelineCounters = {
    seen: state.seen,
    labelled: state.labelled,
    deadLetters: { ...state.deadLetters },
    snapshotVersion: state.snapshotVersion,
    tokenize: { ...state.tokenize },
  };
  return {
    topology: input.topology,
    runId: input.runId,
    version: input.version,
    formatVersion: CHECKPOINT_FORMAT,
    partitions: [],
    model: learner === undefined ? null : Buffer.from(encodeModelSnapshot(learner.model.snapshot())),
    instance: input.instance,
    sampler: state.sampler === undefined ? null : Buffer.from(encodeSamplerSnapshot(state.sampler.snapshot())),
    evaluator: learner?.evaluator === undefined ? null : JSON.stringify(learner.evaluator.snapshot()),
    policy: learner === undefined ? null : JSON.stringify(learner.policy.snapshot()),
    counters: JSON.stringify(counters),
    sourceOffsets: toSourceOffsets(input.positions),
    createdAt: input.now,
  };
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
  if (record.formatVersion !== CHECKPOINT_FORMAT) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `checkpoint ${record.version} of ${record.topology} has format ${record.formatVersion}; this tokrs reads format ${CHECKPOINT_FORMAT}. Delete the state topic's record to start afresh.`,
    );
  }
  const out: RestoredState = {
    version: record.version,
    positions: (record.sourceOffsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
  };
  if (record.model) out.model = decodeModelSnapshot(record.model);
  if (record.sampler) out.sampler = decodeSamplerSnapshot(record.sampler);
  const evaluator = parseJson<EvaluatorSnapshot>(record.evaluator, 'evaluator');
  if (evaluator !== undefined) out.evaluator = evaluator;
  const policy = parseJson<PolicySnapshot>(record.policy, 'policy');
  if (policy !== undefined) out.policy = policy;
  const counters = parseJson<PipelineCounters>(record.counters, 'counters');
  if (counters !== undefined) out.counters = counters;
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
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    // ListOffsets with read_committed isolation: the last stable offset, past which nothing is visible.
    ends = (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, high: o.high, low: o.low }));
  } finally {
    await admin.disconnect();
  }
  const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high) - 1n]));
  if (pending.size === 0) return undefined;
  let latest: CheckpointRecord | undefined;
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
          if (message.key?.toString() === key && message.value !== null) {
            latest = decodeRecord(SCHEMA_NAMES.checkpoint, message.value, message.headers);
          }
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
