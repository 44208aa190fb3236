/**
 * Which snapshots a process averages its model with (no Kafka: records are handed to `receive`): only
 * other processes' of the same topology, each snapshot once, none older than maxAgeMs; and the result is
 * exactly `averageModels` of its own model and theirs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelSnapshotToRecord } from '../../src/codec/mapping.js';
import type { ModelSnapshotRecord } from '../../src/codec/records.js';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { averageModels } from '../../src/learn/average.js';
import type { OnlineClassifier } from '../../src/learn/classifier.js';
import { createClassifier } from '../../src/learn/factory.js';
import type { Kafka } from '../../src/kafka/client.js';
import { silentLogger } from '../../src/observe/logger.js';
import { ModelAveraging } from '../../src/topology/model-averaging.js';

const DIM = 2 ** 10;
/** Sorted, distinct indices, as the featurizer makes them. */
const vector = (indices: number[], values: number[]): SparseVector => {
  const order = indices.map((_, i) => i).sort((x, y) => indices[x]! - indices[y]!);
  return { indices: Int32Array.from(order.map((i) => indices[i]!)), values: Float32Array.from(order.map((i) => values[i]!)), dim: DIM };
};
const hashing = { bits: 10, seed: 0 };

function trained(seed: number, n: number): OnlineClassifier {
  const model = createClassifier({ optimizer: { type: 'ftrl', alpha: 0.5, beta: 1 } }, { dim: DIM, hashing });
  for (let i = 0; i < n; i++) {
    const j = (i * 7 + seed * 13) % DIM;
    const label = (i + seed) % 3 === 0 ? 'neg' : 'pos';
    model.learn(vector([j, (j + 1) % DIM], [1, label === 'neg' ? -1 : 1]), label);
  }
  return model;
}

function record(model: OnlineClassifier, over: Partial<ModelSnapshotRecord> = {}): ModelSnapshotRecord {
  const r = modelSnapshotToRecord(model.snapshot(), {
    topology: 'topo',
    runId: 'run-b',
    version: 1,
    hash: { bits: 10, seed: 0, signSeed: 0, sign: true, bigrams: false, weighting: 'binary', normalize: false },
    instance: 'b',
    createdAt: 0,
  });
  return { ...r, ...over };
}

function averaging(now: () => number): ModelAveraging {
  return new ModelAveraging({ kafka: {} as Kafka, topology: 'topo', topic: 'topo.snapshots', instance: 'a', maxAgeMs: 1000, readCommitted: true, log: silentLogger, now });
}

const probe = vector([3, 10, 500], [1, 1, 1]);

test('averages its model with another process snapshot, exactly as averageModels does', () => {
  const mine = trained(1, 300);
  const theirs = trained(2, 500);
  const expected = createClassifier({ optimizer: { type: 'ftrl', alpha: 0.5, beta: 1 } }, { dim: DIM, hashing });
  expected.restore(averageModels([mine.snapshot(), theirs.snapshot()]));
  const before = [...mine.predictProba(probe)];
  const a = averaging(() => 0);
  a.receive(record(theirs));
  assert.deepEqual(a.averageInto(mine), ['b']);
  assert.deepEqual([...mine.predictProba(probe)], [...expected.predictProba(probe)]);
  assert.notDeepEqual([...mine.predictProba(probe)], before, 'the model changed');
  assert.equal(a.averages, 1);
});

test('each snapshot is averaged in once; a newer one of the same process is used again', () => {
  const mine = trained(1, 300);
  const a = averaging(() => 0);
  a.receive(record(trained(2, 500)));
  assert.deepEqual(a.averageInto(mine), ['b']);
  const after = [...mine.predictProba(probe)];
  assert.deepEqual(a.averageInto(mine), [], 'the same snapshot is not averaged in twice');
  assert.deepEqual([...mine.predictProba(probe)], after);
  a.receive(record(trained(3, 400), { version: 2 }));
  assert.deepEqual(a.averageInto(mine), ['b']);
  // A restarted process starts its versions again, under a new run id: its snapshots are new.
  a.receive(record(trained(4, 400), { version: 2, runId: 'run-b2' }));
  assert.deepEqual(a.averageInto(mine), ['b']);
});

test('own snapshots, other topologies, records without an instance and old snapshots are left out', () => {
  let now = 0;
  const mine = trained(1, 300);
  const before = [...mine.predictProba(probe)];
  const a = averaging(() => now);
  a.receive(record(trained(2, 500), { instance: 'a' }));
  a.receive(record(trained(2, 500), { topology: 'other' }));
  a.receive(record(trained(2, 500), { instance: null }));
  assert.deepEqual(a.averageInto(mine), []);
  a.receive(record(trained(2, 500), { instance: 'c' }));
  now = 1001;
  assert.deepEqual(a.averageInto(mine), [], 'received over maxAgeMs ago: its process stopped or fell behind');
  assert.deepEqual([...mine.predictProba(probe)], before);
  assert.equal(a.averages, 0);
});

test('an incompatible snapshot is refused and leaves the model as it was', () => {
  const mine = trained(1, 300);
  const before = [...mine.predictProba(probe)];
  const other = createClassifier({ optimizer: { type: 'adagrad', lr: 0.1 } }, { dim: DIM, hashing });
  other.learn(vector([1], [1]), 'pos');
  const a = averaging(() => 0);
  a.receive(record(other));
  assert.throws(() => a.averageInto(mine), { code: 'TOKRS_ERR_SNAPSHOT' });
  assert.deepEqual([...mine.predictProba(probe)], before);
});
