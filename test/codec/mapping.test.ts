import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, encodeRecord } from '../../src/codec/avro.js';
import { buildDeadLetter, toAvroOffset } from '../../src/codec/dead-letter.js';
import { createDecoder } from '../../src/codec/input.js';
import {
  metricsRecordFromReport,
  modelSnapshotFromRecord,
  modelSnapshotToRecord,
  predictionRecord,
} from '../../src/codec/mapping.js';
import { ERROR_CODES, TokrsError, isTokrsError } from '../../src/errors.js';
import { Evaluator } from '../../src/evaluate/evaluator.js';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { adagrad } from '../../src/learn/optimizers.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { plain } from './fixtures.js';

const vector = (indices: number[], dim = 64): SparseVector => ({
  indices: Int32Array.from(indices),
  values: Float32Array.from(indices.map(() => 1)),
  dim,
});

describe('dead letters', () => {
  it('keeps the original bytes, key, position and the error code and message', () => {
    const decode = createDecoder({ format: 'json' });
    const value = Buffer.from('{"text": 42}');
    let error: TokrsError | undefined;
    try {
      decode(value, { topic: 'in', partition: 1, offset: '99', timestamp: 0 });
    } catch (e) {
      if (e instanceof TokrsError) error = e;
    }
    assert.ok(error);
    const record = buildDeadLetter({
      topology: 'waimai',
      source: { topic: 'in', partition: 1, offset: '99' },
      key: Buffer.from('k'),
      value,
      error,
      step: 'decode',
      time: 1234,
    });
    assert.deepEqual(plain(record), {
      topology: 'waimai',
      sourceTopic: 'in',
      sourcePartition: 1,
      sourceOffset: 99,
      key: Buffer.from('k'),
      value,
      errorCode: ERROR_CODES.FIELD,
      errorMessage: "text field 'text' must be a string, got number",
      step: 'decode',
      recordId: null,
      time: 1234,
    });
    const { value: encoded, headers } = encodeRecord('dev.tokrs.DeadLetter', record);
    assert.deepEqual(plain(decodeRecord('dev.tokrs.DeadLetter', encoded, headers)), plain(record));
  });

  it('a tombstone without key or position is a valid dead letter', () => {
    const record = buildDeadLetter({ topology: 't', value: null, error: new TokrsError(ERROR_CODES.DECODE, 'no value'), time: 1 });
    const { value, headers } = encodeRecord('dev.tokrs.DeadLetter', record);
    const back = decodeRecord('dev.tokrs.DeadLetter', value, headers);
    assert.equal(back.value, null);
    assert.equal(back.key, null);
    assert.equal(back.sourceOffset, null);
  });

  it('offsets beyond 2^53 are refused rather than rounded', () => {
    assert.equal(toAvroOffset('9007199254740991'), Number.MAX_SAFE_INTEGER);
    assert.throws(() => toAvroOffset('9007199254740993'), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
    assert.throws(() => toAvroOffset('-1'), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
  });
});

describe('metrics from the evaluator report', () => {
  it('maps every figure and encodes', () => {
    let now = 1_000;
    const evaluator = new Evaluator({ rollingWindow: 3, timeWindowMs: 60_000, fadingFactor: 0.9, now: () => now });
    const stream: [string, string, number][] = [
      ['pos', 'pos', 0.9],
      ['neg', 'pos', 0.3],
      ['neg', 'neg', 0.8],
      ['pos', 'pos', 0.7],
    ];
    for (const [yTrue, yPred, pTrue] of stream) {
      evaluator.seen(yTrue);
      evaluator.observe({ yTrue, yPred, pTrue });
    }
    evaluator.seen(undefined);
    now = 3_000;
    const report = evaluator.report('count', { learned: 4, replayed: 0, replays: 0, classes: 2 });
    const record = metricsRecordFromReport(report, {
      topology: 'waimai',
      runId: 'r1',
      deadLetters: { [ERROR_CODES.DECODE]: 2 },
      reservoir: { method: 'uniform', capacity: 100 },
      tokensPerMessage: 7,
      sourceOffsets: [{ topic: 'in', partition: 0, offset: '7' }],
      windowSize: 5,
    });
    assert.equal(record.sequence, 1);
    assert.deepEqual(record.window, { kind: 'count', size: 5, start: 1_000, end: 3_000 });
    assert.equal(record.counts.seen, 7);
    assert.equal(record.counts.predicted, 5);
    assert.equal(record.accuracy, 0.75);
    assert.deepEqual(record.streamLabels, { pos: 2, neg: 2 });
    assert.deepEqual(record.rolling?.map((r) => [r.window, r.kind, r.count]), [
      ['last-3', 'count', 3],
      ['last-60000ms', 'time', 4],
      ['fading-0.9', 'fading', report.fading?.count],
    ]);
    assert.equal(record.rolling?.[0].accuracy, 2 / 3);
    assert.deepEqual(record.sourceOffsets, [{ topic: 'in', partition: 0, offset: 7 }]);
    assert.equal(record.throughput, 2.5);
    const { value, headers } = encodeRecord('dev.tokrs.Metrics', record);
    assert.deepEqual(plain(decodeRecord('dev.tokrs.Metrics', value, headers)), plain(record));
  });

  it('before the first scored message the metrics are null, and the record still encodes', () => {
    const evaluator = new Evaluator({ now: () => 0 });
    const record = metricsRecordFromReport(evaluator.report('time', { learned: 0, replayed: 0, replays: 0, classes: 0 }), {
      topology: 't',
      runId: 'r',
    });
    assert.equal(record.accuracy, null);
    assert.equal(record.confusion, null);
    assert.equal(record.reservoir, null);
    encodeRecord('dev.tokrs.Metrics', record);
  });
});

describe('model snapshots', () => {
  it('a snapshot through Avro restores into a model that predicts and learns identically', () => {
    const hashing = { bits: 6, seed: 0, signed: true, weighting: 'tf' };
    const model = new SoftmaxSgd({ dim: 64, hashing, optimizer: adagrad({ lr: 0.5 }), l2: 1e-4 });
    const data: [number[], string][] = [
      [[1, 2, 3], 'a'],
      [[4, 5], 'b'],
      [[1, 5, 9], 'c'],
      [[2, 3], 'a'],
    ];
    for (const [x, y] of data) model.learn(vector(x), y);
    const record = modelSnapshotToRecord(model.snapshot(), {
      topology: 't',
      runId: 'r',
      version: 1,
      hash: { bits: 6, seed: 0, signSeed: 1, sign: true, bigrams: false, weighting: 'tf', normalize: true },
      createdAt: 5,
    });
    assert.equal(record.learned, 4);
    const { value, headers } = encodeRecord('dev.tokrs.ModelSnapshot', record);
    const restored = new SoftmaxSgd({ dim: 64, hashing, optimizer: adagrad({ lr: 0.5 }), l2: 1e-4 });
    restored.restore(modelSnapshotFromRecord(decodeRecord('dev.tokrs.ModelSnapshot', value, headers)));
    assert.deepEqual(restored.labels, model.labels);
    const probe = vector([1, 2, 5]);
    assert.deepEqual(restored.predictProba(probe), model.predictProba(probe));
    model.learn(vector([7, 8]), 'b');
    restored.learn(vector([7, 8]), 'b');
    assert.deepEqual(restored.predictProba(probe), model.predictProba(probe));
  });

  it('an unknown dtype or a ragged byte length is a SNAPSHOT error', () => {
    const base = { topology: 't', runId: 'r', version: 1, modelKind: 'k', formatVersion: 1, dim: 4, labels: [], createdAt: 0 };
    const hash = { bits: 2, seed: 0, sign: false, bigrams: false, weighting: 'tf', normalize: false };
    assert.throws(
      () => modelSnapshotFromRecord({ ...base, hash, arrays: { w: { dtype: 'int8', data: Buffer.alloc(4) } } }),
      (e) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT'),
    );
    assert.throws(
      () => modelSnapshotFromRecord({ ...base, hash, arrays: { w: { dtype: 'float32', data: Buffer.alloc(6) } } }),
      (e) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT'),
    );
  });
});

describe('predictions', () => {
  it('builds and encodes a prediction', () => {
    const record = predictionRecord({
      topology: 't',
      id: 'in-0-3',
      label: 'pos',
      probabilities: { pos: 0.7, neg: 0.3 },
      source: { topic: 'in', partition: 0, offset: '3' },
      timestamp: 9,
    });
    const { value, headers } = encodeRecord('dev.tokrs.Prediction', record);
    assert.deepEqual(plain(decodeRecord('dev.tokrs.Prediction', value, headers)), plain(record));
    assert.equal(predictionRecord({ topology: 't', id: 'x', label: undefined, probabilities: {}, timestamp: 0 }).label, null);
  });
});
