/**
 * TypeScript shapes of the records in `schemas/*.avsc`, as avsc reads and writes them with its default
 * options: `long` is a JS number (avsc refuses values beyond 2^53), `bytes` a Buffer, a `["null", T]` union
 * is `T | null`, `timestamp-millis` is a plain number of ms since the epoch (no logical type is registered,
 * so that a consumer holding only the .avsc files reads the same values).
 *
 * A field with a default in the schema is optional here: leaving it out writes its default.
 */

/** Full Avro names of the tokrs schemas. */
export const SCHEMA_NAMES = {
  textEvent: 'dev.tokrs.TextEvent',
  metrics: 'dev.tokrs.Metrics',
  modelSnapshot: 'dev.tokrs.ModelSnapshot',
  prediction: 'dev.tokrs.Prediction',
  deadLetter: 'dev.tokrs.DeadLetter',
  checkpoint: 'dev.tokrs.Checkpoint',
} as const;

export type SchemaName = (typeof SCHEMA_NAMES)[keyof typeof SCHEMA_NAMES];

/** A position in a source partition, as Avro writes it (offset as a long). */
export interface SourceOffsetRecord {
  topic: string;
  partition: number;
  /** Offset of the next message to process (Kafka commit semantics). */
  offset: number;
}

/** dev.tokrs.TextEvent v1: one input message. */
export interface TextEventRecord {
  id?: string | null;
  text: string;
  label?: string | null;
  timestamp?: number | null;
  attributes?: Record<string, string>;
}

export interface WindowRecord {
  /** count, time or complete. */
  kind: string;
  size?: number | null;
  start: number;
  end: number;
}

export interface CountsRecord {
  seen: number;
  labelled: number;
  unlabelled?: number;
  predicted: number;
  scored?: number;
  learned?: number;
  replayed?: number;
  classes?: number;
  /** By error code. */
  deadLetters?: Record<string, number>;
}

export interface ClassMetricsRecord {
  label: string;
  precision?: number | null;
  recall?: number | null;
  f1?: number | null;
  support: number;
}

export interface ConfusionMatrixRecord {
  labels: string[];
  /** counts[i][j]: true labels[i] predicted as labels[j]. */
  counts: number[][];
}

export interface RollingMetricsRecord {
  window: string;
  /** count, time or fading. */
  kind?: string;
  size?: number;
  accuracy?: number | null;
  macroF1?: number | null;
  microF1?: number | null;
  weightedF1?: number | null;
  logLoss?: number | null;
  kappa?: number | null;
  count: number;
}

export interface ReservoirStatsRecord {
  method: string;
  size: number;
  capacity: number;
  seen: number;
  labels?: Record<string, number>;
}

/** dev.tokrs.Metrics (v2; v1 lacks `instance` and `lag`). */
/** metrics v3: the evaluator's totals over one source partition. */
export interface PartitionTotalsRecord {
  topic: string;
  partition: number;
  scored: number;
  correct: number;
  logLoss: number | null;
}

export interface MetricsRecord {
  topology: string;
  runId: string;
  step?: string | null;
  sequence: number;
  window: WindowRecord;
  counts: CountsRecord;
  accuracy?: number | null;
  macroF1?: number | null;
  microF1?: number | null;
  weightedF1?: number | null;
  logLoss?: number | null;
  kappa?: number | null;
  macroPrecision?: number | null;
  macroRecall?: number | null;
  perClass?: ClassMetricsRecord[];
  confusion?: ConfusionMatrixRecord | null;
  rolling?: RollingMetricsRecord[];
  reservoir?: ReservoirStatsRecord | null;
  streamLabels?: Record<string, number>;
  throughput: number;
  overallThroughput?: number | null;
  tokensPerMessage?: number | null;
  sourceOffsets?: SourceOffsetRecord[];
  /** v2 only. */
  instance?: string | null;
  /** v2 only. */
  lag?: number | null;
  /** v3 */
  partitions?: PartitionTotalsRecord[];
}

export interface HashSettingsRecord {
  bits: number;
  seed: number;
  signSeed?: number | null;
  sign: boolean;
  bigrams: boolean;
  /** binary, tf or logtf. */
  weighting: string;
  normalize: boolean;
}

/** A typed array as bytes, little-endian. */
export interface NumericArrayRecord {
  /** float32, float64, int32 or uint8. */
  dtype: string;
  data: Buffer;
}

/** dev.tokrs.ModelSnapshot v1. */
export interface ModelSnapshotRecord {
  topology: string;
  runId: string;
  version: number;
  modelKind: string;
  formatVersion: number;
  dim: number;
  labels: string[];
  hash: HashSettingsRecord;
  hashing?: Record<string, string | number | boolean>;
  /** Weights and optimizer state by name. */
  arrays: Record<string, NumericArrayRecord>;
  /** JSON object. */
  meta?: string;
  learned?: number;
  metrics?: Record<string, number>;
  sourceOffsets?: SourceOffsetRecord[];
  instance?: string | null;
  createdAt: number;
}

/** dev.tokrs.Prediction v1. */
export interface PredictionRecord {
  topology: string;
  id: string;
  label?: string | null;
  probabilities?: Record<string, number>;
  trueLabel?: string | null;
  modelVersion?: number | null;
  sourceTopic?: string | null;
  sourcePartition?: number | null;
  sourceOffset?: number | null;
  timestamp: number;
}

/** dev.tokrs.DeadLetter v1. */
export interface DeadLetterRecord {
  topology: string;
  sourceTopic?: string | null;
  sourcePartition?: number | null;
  sourceOffset?: number | null;
  key?: Buffer | null;
  value?: Buffer | null;
  errorCode: string;
  errorMessage: string;
  step?: string | null;
  recordId?: string | null;
  time: number;
}

export interface PartitionStateRecord {
  topic: string;
  partition: number;
  offset: number;
  state: Buffer;
}

/** dev.tokrs.Checkpoint v1. */
export interface CheckpointRecord {
  topology: string;
  runId?: string | null;
  version: number;
  formatVersion: number;
  partitions?: PartitionStateRecord[];
  model?: Buffer | null;
  /** v2 */
  instance?: string | null;
  /** v2 */
  sampler?: Buffer | null;
  /** v2 */
  evaluator?: string | null;
  /** v2 */
  policy?: string | null;
  /** v2 */
  counters?: string | null;
  sourceOffsets?: SourceOffsetRecord[];
  createdAt: number;
}

/** The TypeScript type of each schema's records, by full Avro name. */
export interface RecordTypes {
  'dev.tokrs.TextEvent': TextEventRecord;
  'dev.tokrs.Metrics': MetricsRecord;
  'dev.tokrs.ModelSnapshot': ModelSnapshotRecord;
  'dev.tokrs.Prediction': PredictionRecord;
  'dev.tokrs.DeadLetter': DeadLetterRecord;
  'dev.tokrs.Checkpoint': CheckpointRecord;
}
