/** One full record of every tokrs schema (every optional field set), shared by the codec tests. */
import type {
  CheckpointRecord,
  DeadLetterRecord,
  MetricsRecord,
  ModelSnapshotRecord,
  PredictionRecord,
  RecordTypes,
  SchemaName,
  TextEventRecord,
} from '../../src/codec/records.js';

export const textEvent: TextEventRecord = {
  id: 'r-1',
  text: '很快，好吃，味道足，量大',
  label: 'positive',
  timestamp: 1_700_000_000_123,
  attributes: { lang: 'zh', source: 'waimai' },
};

/** A v1 metrics record: no instance, no lag. */
export const metricsV1: MetricsRecord = {
  topology: 'waimai-sentiment',
  runId: 'run-42',
  step: 'evaluate',
  sequence: 3,
  window: { kind: 'count', size: 1000, start: 1_700_000_000_000, end: 1_700_000_001_500 },
  counts: {
    seen: 3005,
    labelled: 3000,
    unlabelled: 0,
    predicted: 2999,
    scored: 2999,
    learned: 3500,
    replayed: 500,
    classes: 2,
    deadLetters: { TOKRS_ERR_DECODE: 3, TOKRS_ERR_FIELD: 2 },
  },
  accuracy: 0.875,
  macroF1: 0.86,
  microF1: 0.875,
  weightedF1: 0.874,
  logLoss: 0.31,
  kappa: 0.72,
  macroPrecision: 0.87,
  macroRecall: 0.85,
  perClass: [
    { label: 'positive', precision: 0.8, recall: 0.75, f1: 0.774, support: 1000 },
    { label: 'negative', precision: 0.9, recall: null, f1: null, support: 1999.5 },
  ],
  confusion: { labels: ['positive', 'negative'], counts: [[750, 250], [125, 1874]] },
  rolling: [
    { window: 'last-1000', kind: 'count', size: 1000, accuracy: 0.9, macroF1: 0.89, microF1: 0.9, weightedF1: 0.9, logLoss: 0.25, kappa: 0.8, count: 1000 },
    { window: 'fading-0.999', kind: 'fading', size: 0.999, accuracy: null, macroF1: null, microF1: null, weightedF1: null, logLoss: null, kappa: null, count: 632.1 },
  ],
  reservoir: { method: 'uniform', size: 1000, capacity: 1000, seen: 3000, labels: { positive: 340, negative: 660 } },
  streamLabels: { positive: 1000, negative: 2000 },
  throughput: 25_000.5,
  overallThroughput: 24_000.25,
  tokensPerMessage: 9.5,
  sourceOffsets: [
    { topic: 'waimai', partition: 0, offset: 1002 },
    { topic: 'waimai', partition: 1, offset: 998 },
  ],
};

export const metricsV2: MetricsRecord = { ...metricsV1, instance: 'host-a:1234', lag: 17 };
export const metricsV3: MetricsRecord = {
  ...metricsV2,
  partitions: [
    { topic: 'reviews', partition: 0, scored: 400, correct: 341, logLoss: 0.36 },
    { topic: 'reviews', partition: 2, scored: 0, correct: 0, logLoss: null },
  ],
};

export const modelSnapshot: ModelSnapshotRecord = {
  topology: 'waimai-sentiment',
  runId: 'run-42',
  version: 7,
  modelKind: 'softmax-sgd',
  formatVersion: 1,
  dim: 1 << 20,
  labels: ['positive', 'negative'],
  hash: { bits: 20, seed: 0, signSeed: 0x9747b28c, sign: true, bigrams: false, weighting: 'tf', normalize: true },
  hashing: { bits: 20, seed: 0, signed: true, weighting: 'tf' },
  arrays: {
    weights: { dtype: 'float32', data: Buffer.from(new Float32Array([0.5, -1.25, 3]).buffer) },
    accumulators: { dtype: 'float64', data: Buffer.from(new Float64Array([1e-8, 2]).buffer) },
  },
  meta: '{"optimizer":"adagrad","updates":3500}',
  learned: 3500,
  metrics: { accuracy: 0.875, macroF1: 0.86 },
  sourceOffsets: [{ topic: 'waimai', partition: 0, offset: 1002 }],
  instance: 'host-a:1234',
  createdAt: 1_700_000_002_000,
};

export const prediction: PredictionRecord = {
  topology: 'waimai-sentiment',
  id: 'waimai-0-17',
  label: 'negative',
  probabilities: { positive: 0.25, negative: 0.75 },
  trueLabel: 'negative',
  modelVersion: 3500,
  sourceTopic: 'waimai',
  sourcePartition: 0,
  sourceOffset: 17,
  timestamp: 1_700_000_000_999,
};

export const deadLetter: DeadLetterRecord = {
  topology: 'waimai-sentiment',
  sourceTopic: 'waimai',
  sourcePartition: 2,
  sourceOffset: 12_345,
  key: Buffer.from('k1'),
  value: Buffer.from([0xff, 0xfe, 0x00]),
  errorCode: 'TOKRS_ERR_DECODE',
  errorMessage: 'message value is not valid UTF-8 (3 bytes)',
  step: 'decode',
  recordId: null,
  time: 1_700_000_003_000,
};

export const checkpoint: CheckpointRecord = {
  topology: 'waimai-sentiment',
  runId: 'run-42',
  version: 12,
  formatVersion: 1,
  partitions: [
    { topic: 'waimai', partition: 0, offset: 1002, state: Buffer.from([1, 2, 3]) },
    { topic: 'waimai', partition: 1, offset: 998, state: Buffer.alloc(0) },
  ],
  model: Buffer.from([9, 8, 7, 6]),
  instance: 'main',
  sampler: Buffer.from([5, 4]),
  evaluator: '{"version":1}',
  policy: '{"labelled":3}',
  counters: '{"seen":1002}',
  sourceOffsets: [{ topic: 'waimai', partition: 0, offset: 1002 }],
  createdAt: 1_700_000_004_000,
};

/** Every schema with a full record of it, the version the record is written with, and its file. */
export const SAMPLES: { [N in SchemaName]: { record: RecordTypes[N]; version: number; file: string } } = {
  'dev.tokrs.TextEvent': { record: textEvent, version: 1, file: 'text-event.v1.avsc' },
  'dev.tokrs.Metrics': { record: metricsV3, version: 3, file: 'metrics.v3.avsc' },
  'dev.tokrs.ModelSnapshot': { record: modelSnapshot, version: 1, file: 'model-snapshot.v1.avsc' },
  'dev.tokrs.Prediction': { record: prediction, version: 1, file: 'prediction.v1.avsc' },
  'dev.tokrs.DeadLetter': { record: deadLetter, version: 1, file: 'dead-letter.v1.avsc' },
  'dev.tokrs.Checkpoint': { record: checkpoint, version: 2, file: 'checkpoint.v2.avsc' },
};

/** Plain data (no avsc record classes) so records compare with deepStrictEqual. */
export function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}
