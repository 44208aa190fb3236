import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { parseTrainConfig, type TrainConfigInput } from '../../src/learn/config.js';
import { TrainingPolicy, POLICY_SNAPSHOT_VERSION, type PolicySnapshot } from '../../src/learn/policy.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { createRandom } from '../../src/sample/random.js';
import { UniformReservoir } from '../../src/sample/uniform.js';
import { isTokrsError } from '../../src/errors.js';
import type { Example } from '../../src/topology/record.js';

const DIM = 64;

function examples(n: number, seed: number): Example[] {
  const r = createRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const label = ['a', 'b', 'c'][Math.floor(r.next() * 3)];
    const base = label === 'a' ? 0 : label === 'b' ? 20 : 40;
    const idx = [...new Set([base + Math.floor(r.next() * 10), base + Math.floor(r.next() * 10), 60 + Math.floor(r.next() * 4)])].sort((x, y) => x - y);
    const features: SparseVector = { indices: Int32Array.from(idx), values: Float32Array.from(idx, () => 0.5 + r.next()), dim: DIM };
    return { features, label, tokenCount: idx.length, timestamp: i };
  });
}

/** The learner side of a topology: reservoir offered first, then the policy (as the pipeline does). */
function learner(train: TrainConfigInput, seed = 3) {
  const reservoir = new UniformReservoir<Example>(15, createRandom(seed));
  const model = new SoftmaxSgd({ dim: DIM });
  const policy = new TrainingPolicy(parseTrainConfig(train), () => reservoir);
  /** Replays count after each message: shows on which messages the replays fell. */
  const trace: number[] = [];
  const step = (e: Example): void => {
    reservoir.offer(e);
    policy.onLabelled(model, e);
    trace.push(policy.replays);
  };
  return { reservoir, model, policy, trace, step };
}

const probe = examples(20, 99);
const predictions = (m: SoftmaxSgd): number[][] => probe.map((e) => Array.from(m.predictProba(e.features)));

for (const train of [
  { learnOn: 'both', replayEvery: 7, replayBatch: 4 },
  { learnOn: 'reservoir', replayEvery: 5, replayBatch: 3 },
  { learnOn: 'stream', replayEvery: 5, replayBatch: 3 },
] as const) {
  test(`policy ${train.learnOn}: replays fall on the same messages after a restore, and counts continue`, () => {
    const data = examples(200, 1);
    for (const cut of [0, 3, 7, 50, 101]) {
      const whole = learner(train);
      data.forEach(whole.step);

      const first = learner(train);
      data.slice(0, cut).forEach(first.step);
      const saved = JSON.stringify(first.policy.snapshot());
      const reservoir = first.reservoir.snapshot();
      const model = first.model.snapshot();

      const second = learner(train, 12345); // another seed: everything must come from the snapshots
      second.policy.restore(JSON.parse(saved) as PolicySnapshot);
      second.reservoir.restore(reservoir);
      second.model.restore(model);
      data.slice(cut).forEach(second.step);

      assert.deepEqual([...first.trace, ...second.trace], whole.trace, `cut ${cut}: replays at the same messages`);
      assert.deepEqual(second.policy.snapshot(), whole.policy.snapshot(), `cut ${cut}: counters`);
      assert.deepEqual(second.policy.counts(second.model), whole.policy.counts(whole.model));
      assert.deepEqual(predictions(second.model), predictions(whole.model), `cut ${cut}: same model`);
    }
  });
}

test('without the policy snapshot the replays drift (the check above can fail)', () => {
  const train = { learnOn: 'both', replayEvery: 7, replayBatch: 4 } as const;
  const data = examples(60, 2);
  const whole = learner(train);
  data.forEach(whole.step);
  const first = learner(train);
  data.slice(0, 10).forEach(first.step);
  const second = learner(train);
  second.reservoir.restore(first.reservoir.snapshot());
  second.model.restore(first.model.snapshot());
  data.slice(10).forEach(second.step);
  assert.notDeepEqual(second.policy.counts(second.model), whole.policy.counts(whole.model));
});

test('a policy snapshot of another kind or version, or with bad counters, is a SNAPSHOT error and changes nothing', () => {
  const p = new TrainingPolicy(parseTrainConfig({}), () => undefined);
  p.labelled = 5;
  const good = p.snapshot();
  assert.deepEqual(good, { kind: 'training-policy', version: POLICY_SNAPSHOT_VERSION, labelled: 5, learned: 0, replayed: 0, replays: 0 });
  for (const bad of [
    { ...good, version: POLICY_SNAPSHOT_VERSION + 1 },
    { ...good, kind: 'evaluator' },
    { ...good, labelled: -1 },
    { ...good, replays: 1.5 },
    { ...good, learned: '3' },
    null,
  ]) {
    const q = new TrainingPolicy(parseTrainConfig({}), () => undefined);
    assert.throws(() => q.restore(bad as PolicySnapshot), (e: unknown) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT'), JSON.stringify(bad));
    assert.equal(q.labelled, 0);
  }
});
