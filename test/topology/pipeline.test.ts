/** The wired pipeline without Kafka: what it emits for good and bad messages, and that every message ends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import type { RawMessage } from '../../src/codec/decode-operator.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import { createClassifier } from '../../src/learn/factory.js';
import { modelSnapshotFromRecord } from '../../src/codec/mapping.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { parseTopology } from '../../src/topology/load.js';
import { PipelineState, modelSpace, topologyPipeline, type TopologyOutput } from '../../src/topology/pipeline.js';
import type { SourcePosition } from '../../src/topology/record.js';
import { readReviews } from '../support/data.js';

const topology = parseTopology(
  `
name: unit
seed: 3
source: { topics: [in], format: json }
tokenize: { tokenizer: jieba }
features: { bits: 16 }
sample: { size: 100 }
train: { learnOn: both, replayEvery: 10, replayBatch: 4 }
evaluate: { reportEvery: 500, reportEveryMs: 0 }
outputs:
  metrics: { topic: m }
  snapshots: { topic: s, everyMessages: 700 }
  predictions: { topic: p }
  deadLetters: { topic: d }
`,
  'unit.yaml',
);

function message(offset: number, value: string | Buffer | null): RawMessage {
  return {
    topic: 'in',
    partition: offset % 2,
    offset: String(offset),
    key: null,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    timestamp: 1_700_000_000_000 + offset,
    headers: {},
  };
}

test('valid messages are scored and learned, bad ones become dead letters, every message is done once', async () => {
  const reviews = readReviews(undefined, 2000);
  const bad: (string | Buffer | null)[] = [
    '{not json',
    JSON.stringify({ label: 'positive' }),
    JSON.stringify({ text: 42, label: 'positive' }),
    JSON.stringify({ text: '好吃', label: 7 }),
    Buffer.from([0xff, 0xfe, 0x00]),
    null,
  ];
  const messages: RawMessage[] = [];
  let offset = 0;
  for (const [i, r] of reviews.entries()) {
    messages.push(message(offset++, JSON.stringify(r)));
    if (i % 300 === 0 && bad.length > 0) messages.push(message(offset++, bad.shift()!));
  }
  messages.push(message(offset++, JSON.stringify({ text: '这家店的菜太咸了' }))); // unlabelled: a prediction
  assert.equal(bad.length, 0);

  const done: SourcePosition[] = [];
  const state = new PipelineState();
  const featurizer = createFeaturizer(topology.features);
  const tokenizer = createTokenizer(topology.tokenize);
  const probes = ['味道很好，送餐很快', '太难吃了，再也不点了'].map((text) => featurizer.featurize(tokenizer.tokenize(text).tokens));
  // What the live model predicts at the moment each snapshot is published.
  const livePredictions: Float64Array[][] = [];
  const outputs: TopologyOutput[] = await lastValueFrom(
    from(messages).pipe(
      topologyPipeline(topology, { runId: 'r1', done: (p) => done.push(p) }, state),
      tap((o) => {
        if (o.kind === 'snapshot') livePredictions.push(probes.map((x) => state.learner.model!.predictProba(x)));
      }),
      toArray(),
    ),
  );
  const of = <K extends TopologyOutput['kind']>(kind: K) =>
    outputs.filter((o): o is Extract<TopologyOutput, { kind: K }> => o.kind === kind);

  assert.equal(done.length, messages.length, 'each message is done exactly once');
  assert.equal(new Set(done.map((p) => `${p.partition}/${p.offset}`)).size, messages.length);

  const deadLetters = of('deadLetter');
  assert.deepEqual(
    deadLetters.map((d) => d.record.errorCode).sort(),
    ['TOKRS_ERR_DECODE', 'TOKRS_ERR_DECODE', 'TOKRS_ERR_DECODE', 'TOKRS_ERR_FIELD', 'TOKRS_ERR_FIELD', 'TOKRS_ERR_FIELD'],
  );
  assert.ok(deadLetters.every((d) => d.record.sourceTopic === 'in' && d.record.errorMessage.length > 0));
  const nonJson = deadLetters.find((d) => d.record.value?.toString() === '{not json');
  assert.ok(nonJson, 'the original bytes are kept in the dead letter');

  const metrics = of('metrics');
  const last = metrics.at(-1)!;
  assert.equal(last.report.trigger, 'complete');
  assert.equal(last.report.counts.labelled, reviews.length);
  assert.equal(last.report.counts.unlabelled, 1);
  assert.equal(last.record.counts.seen, messages.length);
  assert.ok(last.report.overall.accuracy > 0.7, `learns: accuracy ${last.report.overall.accuracy}`);
  assert.deepEqual(metrics.map((m) => m.report.trigger), ['count', 'count', 'count', 'count', 'complete']);

  const predictions = of('prediction');
  assert.equal(predictions.length, 1);
  assert.ok(['positive', 'negative'].includes(predictions[0]!.record.label ?? ''));

  // Snapshots every 700 labelled messages, and one at the end; the last restores to the live model.
  const snapshots = of('snapshot');
  assert.deepEqual(snapshots.map((s) => s.record.version), [1, 2, 3]);
  for (const [i, s] of snapshots.entries()) {
    const restored = createClassifier(topology.model, modelSpace(topology));
    restored.restore(modelSnapshotFromRecord(s.record));
    assert.deepEqual(probes.map((x) => restored.predictProba(x)), livePredictions[i]);
  }
  assert.notDeepEqual(livePredictions[0], livePredictions[2], 'the model changed between snapshots');
});

test('the same messages and seed give identical outputs', async () => {
  const messages = readReviews(undefined, 600).map((r, i) => message(i, JSON.stringify(r)));
  const run = async (): Promise<string> => {
    const out = await lastValueFrom(from(messages).pipe(topologyPipeline(topology, { runId: 'same' }), toArray()));
    // Throughput and report times depend on the wall clock; everything else must match.
    return JSON.stringify(
      out.map((o) => (o.kind === 'metrics' ? { ...o.report, timestamp: 0, throughput: null } : o.kind === 'snapshot' ? { ...o.record, createdAt: 0 } : o.record)),
    );
  };
  assert.equal(await run(), await run());
});
