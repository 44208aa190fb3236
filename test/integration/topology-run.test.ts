/**
 * Issue 6's must-show on the real broker: the waimai topology over a 3-partition topic with some bad
 * records mixed in; metrics count exactly the valid records, snapshots restore, dead letters carry their
 * reasons, and the metrics records decode with nothing but the .avsc files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { decodeRecord } from '../../src/codec/avro.js';
import { modelSnapshotFromRecord } from '../../src/codec/mapping.js';
import { SCHEMA_NAMES, type DeadLetterRecord, type ModelSnapshotRecord } from '../../src/codec/records.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { createClassifier } from '../../src/learn/factory.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { loadTopology } from '../../src/topology/load.js';
import { modelSpace } from '../../src/topology/pipeline.js';
import { startTopology } from '../../src/topology/runner.js';
import { readReviews } from '../support/data.js';
import { readTopic, testKafka, type Consumed } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url));
const kafka = testKafka('topology-run');

const readAll = (topic: string, expectedAtLeast: number, timeoutMs?: number): Promise<Consumed[]> => readTopic(kafka, topic, expectedAtLeast, timeoutMs);

test('the waimai topology over Kafka: exact counts, restorable snapshots, dead letters, .avsc-only readers', async () => {
  // The shipped topology, with fresh topics and count-only windows (so the expected records do not depend on timing).
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    evaluate: { ...base.evaluate, reportEveryMs: 0 },
    outputs: { ...base.outputs, snapshots: { topic: `${base.name}.snapshots`, everyMessages: 4000 } },
  }));
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const reviews = readReviews();
  await feedLines(kafka, reviews.map((r) => JSON.stringify(r)), { topic, format: 'json', jsonInput: true });
  const bad = [
    Buffer.from('{"text": "truncated'),
    Buffer.from(JSON.stringify({ label: 'positive' })),
    Buffer.from(JSON.stringify({ text: ['not', 'a', 'string'], label: 'negative' })),
    Buffer.from(JSON.stringify({ text: '还行', label: 1 })),
    Buffer.from([0xc3, 0x28, 0x7b]),
    Buffer.alloc(2 * 1024 * 1024, 0x61),
  ];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: bad.map((value, i) => ({ key: `bad-${i}`, value })) });
  await producer.disconnect();

  const featurizer = createFeaturizer(t.features);
  const tokenizer = createTokenizer(t.tokenize);
  const probes = ['送餐很快，味道很好', '菜是凉的，太难吃了'].map((s) => featurizer.featurize(tokenizer.tokenize(s).tokens));
  const liveAtSnapshot = new Map<number, Float64Array[]>();

  const run = await startTopology(t, {
    kafka,
    idleExitMs: 2_500,
    instance: 'itest-1',
    onOutput: (o) => {
      if (o.kind === 'snapshot') liveAtSnapshot.set(o.record.version, probes.map((x) => run.state.learner.model!.predictProba(x)));
    },
  });
  const summary = await run.finished;
  assert.equal(summary.seen, reviews.length + bad.length);
  assert.equal(summary.labelled, reviews.length);

  // Metrics: the last record counts exactly the valid records; decoded knowing only the .avsc files.
  const metrics = await readAll(t.outputs.metrics!.topic, Math.floor(reviews.length / 1000) + 1);
  assert.ok(metrics.length >= 12, `${metrics.length} metrics records`);
  const readerOnlyAvsc = (m: Consumed): Record<string, unknown> => {
    const version = String(m.headers['tokrs-schema-version']);
    const type = avro.Type.forSchema(JSON.parse(readFileSync(`${schemasDir}metrics.v${version}.avsc`, 'utf8')));
    return type.fromBuffer(m.value) as Record<string, unknown>;
  };
  const last = readerOnlyAvsc(metrics.at(-1)!);
  const counts = last.counts as Record<string, number>;
  assert.equal(counts.labelled, reviews.length);
  assert.equal(counts.seen, reviews.length + bad.length);
  assert.ok((last.accuracy as number) > 0.8, `accuracy ${String(last.accuracy)}`);
  assert.deepEqual(
    metrics.map(readerOnlyAvsc).map((r) => [r.topology, r.instance]),
    metrics.map(() => [t.name, 'itest-1']),
    'every metrics record names its topology and the process (instance) that emitted it',
  );

  // Snapshots: published, and each restores into a classifier that predicts as the running one did.
  const snapshots = (await readAll(t.outputs.snapshots!.topic, 3)).map(
    (m) => decodeRecord(SCHEMA_NAMES.modelSnapshot, m.value, m.headers) as ModelSnapshotRecord,
  );
  assert.deepEqual(snapshots.map((s) => s.version), [1, 2, 3]);
  assert.deepEqual(snapshots.map((s) => s.instance), ['itest-1', 'itest-1', 'itest-1']);
  for (const s of snapshots) {
    const model = createClassifier(t.model, modelSpace(t));
    model.restore(modelSnapshotFromRecord(s));
    assert.deepEqual(probes.map((x) => model.predictProba(x)), liveAtSnapshot.get(s.version));
  }

  // Dead letters: every bad record, with its reason and original bytes.
  const deadLetters = (await readAll(t.outputs.deadLetters!.topic, bad.length)).map(
    (m) => decodeRecord(SCHEMA_NAMES.deadLetter, m.value, m.headers) as DeadLetterRecord,
  );
  assert.equal(deadLetters.length, bad.length);
  assert.deepEqual(
    deadLetters.map((d) => d.errorCode).sort(),
    ['TOKRS_ERR_DECODE', 'TOKRS_ERR_DECODE', 'TOKRS_ERR_FIELD', 'TOKRS_ERR_FIELD', 'TOKRS_ERR_FIELD', 'TOKRS_ERR_LIMIT'],
  );
  for (const d of deadLetters) {
    const i = Number(d.key?.toString().replace('bad-', ''));
    assert.ok(d.value?.equals(bad[i]!), `dead letter ${i} keeps the original bytes`);
    assert.equal(d.sourceTopic, topic);
    assert.ok(d.errorMessage.length > 10, d.errorMessage);
  }
  assert.deepEqual(summary.deadLetters, { TOKRS_ERR_DECODE: 2, TOKRS_ERR_FIELD: 3, TOKRS_ERR_LIMIT: 1 });

  // Offsets: the group committed everything it processed.
  const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: t.source.group!, topics: [topic] }));
  const total = committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  assert.equal(total, reviews.length + bad.length);
});

test('a topology with an invalid field is refused at start, naming the path', () => {
  assert.throws(
    () => loadTopology(fileURLToPath(new URL('../fixtures/bad-topology.yaml', import.meta.url))),
    /bad-topology\.yaml:\d+: sample\.size must be > 0, got -3/,
  );
});
