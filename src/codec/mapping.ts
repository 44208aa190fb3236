/**
 * From the in-memory objects of the evaluator and the learner to Avro records and back, so the runtime
 * does not hand-map fields (and the schema follows MetricsReport and ModelSnapshot in one place).
 */
import type { MetricsReport, WindowedMetrics } from '../evaluate/report.js';
import type { ModelSnapshot, SnapshotArray } from '../learn/classifier.js';
import type { SourcePosition } from '../topology/record.js';
import { ERROR_CODES, TokrsError } from '../errors.js';
import { toAvroOffset } from './dead-letter.js';
import type {
  HashSettingsRecord,
  MetricsRecord,
  ModelSnapshotRecord,
  NumericArrayRecord,
  PartitionTotalsRecord,
  PredictionRecord,
  RollingMetricsRecord,
  SourceOffsetRecord,
} from './records.js';

/** Kafka-style positions (offset as a decimal string) as Avro SourceOffset records. */
export function toSourceOffsets(positions: readonly SourcePosition[]): SourceOffsetRecord[] {
  return positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: toAvroOffset(p.offset) }));
}

/** What the report does not know: where it runs and what happened before the evaluator. */
export interface MetricsContext {
  topology: string;
  runId: string;
  /** Messages read from the source; default: those the evaluator saw plus the dead letters. */
  seen?: number;
  /** Dead letters by error code. */
  deadLetters?: Readonly<Record<string, number>>;
  /** Sampler method and capacity; without it the record has no reservoir section. */
  reservoir?: { method: string; capacity: number };
  tokensPerMessage?: number | null;
  /** Next offset to process per partition. */
  sourceOffsets?: readonly SourcePosition[];
  /** Emission interval for count/time triggers. */
  windowSize?: number | null;
  /** metrics v2. */
  instance?: string | null;
  /** metrics v2. */
  lag?: number | null;
  /** metrics v3: the evaluator's totals per source partition held. */
  partitions?: readonly PartitionTotalsRecord[];
}

const toMap = (counts: readonly { label: string; count: number }[]): Record<string, number> =>
  Object.fromEntries(counts.map((c) => [c.label, Math.round(c.count)]));

function rolling(name: string, m: WindowedMetrics): RollingMetricsRecord {
  return {
    window: name,
    kind: m.kind,
    size: m.size,
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    microF1: m.microF1,
    weightedF1: m.weightedF1,
    logLoss: m.logLoss,
    kappa: m.kappa,
    count: m.count,
  };
}

/** The dev.tokrs.Metrics record for one MetricsReport. Overall metrics are null until a message is scored. */
export function metricsRecordFromReport(report: MetricsReport, context: MetricsContext): MetricsRecord {
  const { counts, overall, labels, throughput } = report;
  const deadLetters = { ...(context.deadLetters ?? {}) };
  const deadTotal = Object.values(deadLetters).reduce((a, b) => a + b, 0);
  const scored = overall.count > 0;
  const windows: RollingMetricsRecord[] = [];
  if (report.rolling) windows.push(rolling(`last-${report.rolling.size}`, report.rolling));
  if (report.timeWindow) windows.push(rolling(`last-${report.timeWindow.size}ms`, report.timeWindow));
  if (report.fading) windows.push(rolling(`fading-${report.fading.size}`, report.fading));
  return {
    topology: context.topology,
    runId: context.runId,
    step: report.step,
    sequence: report.sequence,
    window: {
      kind: report.trigger,
      size: context.windowSize ?? null,
      start: report.timestamp - throughput.intervalMs,
      end: report.timestamp,
    },
    counts: {
      seen: context.seen ?? counts.messages + deadTotal,
      labelled: counts.labelled,
      unlabelled: counts.unlabelled,
      predicted: counts.scored + counts.unlabelled,
      scored: counts.scored,
      learned: counts.learned,
      replayed: counts.replayed,
      classes: counts.classes,
      deadLetters,
    },
    accuracy: scored ? overall.accuracy : null,
    macroF1: scored ? overall.macroF1 : null,
    microF1: scored ? overall.microF1 : null,
    weightedF1: scored ? overall.weightedF1 : null,
    logLoss: scored ? overall.logLoss : null,
    kappa: scored ? overall.kappa : null,
    macroPrecision: scored ? overall.macroPrecision : null,
    macroRecall: scored ? overall.macroRecall : null,
    perClass: overall.perClass.map((c) => ({ ...c })),
    confusion: scored
      ? { labels: [...overall.confusion.labels], counts: overall.confusion.matrix.map((row) => [...row]) }
      : null,
    rolling: windows,
    reservoir: context.reservoir
      ? {
          method: context.reservoir.method,
          capacity: context.reservoir.capacity,
          size: labels.reservoirSize,
          seen: labels.reservoirSeen,
          labels: toMap(labels.reservoir),
        }
      : null,
    streamLabels: toMap(labels.stream),
    throughput: throughput.messagesPerSecond,
    overallThroughput: throughput.overallMessagesPerSecond,
    tokensPerMessage: context.tokensPerMessage ?? null,
    sourceOffsets: toSourceOffsets(context.sourceOffsets ?? []),
    instance: context.instance ?? null,
    lag: context.lag ?? null,
    partitions: (context.partitions ?? []).map((p) => ({ ...p })),
  };
}

const DTYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
} as const;
type Dtype = keyof typeof DTYPES;

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(array: SnapshotArray): Dtype {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  if (array instanceof Int32Array) return 'int32';
  return 'uint8';
}

function arrayToRecord(array: SnapshotArray): NumericArrayRecord {
  if (!IS_LITTLE_ENDIAN) {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, 'snapshots are written little-endian; this platform is big-endian');
  }
  // A view, not a copy: avsc copies the bytes into the encoded record anyway.
  return { dtype: dtypeOf(array), data: Buffer.from(array.buffer, array.byteOffset, array.byteLength) };
}

function arrayFromRecord(name: string, record: NumericArrayRecord): SnapshotArray {
  const Ctor = (DTYPES as Record<string, (typeof DTYPES)[Dtype] | undefined>)[record.dtype];
  if (!Ctor) throw new TokrsError(ERROR_CODES.SNAPSHOT, `snapshot array ${name}: unknown dtype ${record.dtype}`);
  if (record.data.length % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `snapshot array ${name}: ${record.data.length} bytes is not a whole number of ${record.dtype}`,
    );
  }
  // Copy into a fresh, aligned buffer: the decoded Buffer may sit at any offset of a shared pool.
  const copy = new Uint8Array(record.data.length);
  copy.set(record.data);
  return new Ctor(copy.buffer, 0, record.data.length / Ctor.BYTES_PER_ELEMENT);
}

export interface SnapshotContext {
  topology: string;
  runId: string;
  /** Snapshot number, increasing within a topology. */
  version: number;
  hash: HashSettingsRecord;
  /** Examples learned; default: meta.updates when it is a number, else 0. */
  learned?: number;
  metrics?: Readonly<Record<string, number>>;
  sourceOffsets?: readonly SourcePosition[];
  instance?: string | null;
  createdAt: number;
}

/** The dev.tokrs.ModelSnapshot record of a learner's snapshot. */
export function modelSnapshotToRecord(snapshot: ModelSnapshot, context: SnapshotContext): ModelSnapshotRecord {
  const updates = snapshot.meta.updates;
  return {
    topology: context.topology,
    runId: context.runId,
    version: context.version,
    modelKind: snapshot.kind,
    formatVersion: snapshot.version,
    dim: snapshot.dim,
    labels: [...snapshot.labels],
    hash: context.hash,
    hashing: { ...snapshot.hashing },
    arrays: Object.fromEntries(Object.entries(snapshot.arrays).map(([name, a]) => [name, arrayToRecord(a)])),
    meta: JSON.stringify(snapshot.meta),
    learned: context.learned ?? (typeof updates === 'number' ? updates : 0),
    metrics: { ...(context.metrics ?? {}) },
    sourceOffsets: toSourceOffsets(context.sourceOffsets ?? []),
    instance: context.instance ?? null,
    createdAt: context.createdAt,
  };
}

/** The learner's snapshot inside a decoded dev.tokrs.ModelSnapshot record, for `restore`. */
export function modelSnapshotFromRecord(record: ModelSnapshotRecord): ModelSnapshot {
  let meta: unknown;
  try {
    meta = JSON.parse(record.meta ?? '{}');
  } catch (error) {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `snapshot ${record.version}: meta is not JSON`, { cause: error });
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `snapshot ${record.version}: meta must be a JSON object`);
  }
  return {
    kind: record.modelKind,
    version: record.formatVersion,
    dim: record.dim,
    hashing: { ...(record.hashing ?? {}) },
    labels: [...record.labels],
    meta: meta as Record<string, unknown>,
    arrays: Object.fromEntries(Object.entries(record.arrays).map(([name, a]) => [name, arrayFromRecord(name, a)])),
  };
}

/** The dev.tokrs.Prediction record for one record's prediction. */
export function predictionRecord(input: {
  topology: string;
  id: string;
  label: string | undefined;
  probabilities: Readonly<Record<string, number>>;
  trueLabel?: string;
  modelVersion?: number;
  source?: SourcePosition;
  timestamp: number;
}): PredictionRecord {
  return {
    topology: input.topology,
    id: input.id,
    label: input.label ?? null,
    probabilities: { ...input.probabilities },
    trueLabel: input.trueLabel ?? null,
    modelVersion: input.modelVersion ?? null,
    sourceTopic: input.source?.topic ?? null,
    sourcePartition: input.source?.partition ?? null,
    sourceOffset: input.source === undefined ? null : toAvroOffset(input.source.offset),
    timestamp: input.timestamp,
  };
}
