/**
 * outputs.format: confluent on the real broker: metrics, snapshots, predictions and dead letters are
 * published in the Confluent wire format, their schemas registered under "<topic>-value" (TopicNameStrategy)
 * in a registry (an in-process fake of its REST API: no registry can run here), and a consumer holding only
 * the .avsc files and the framing (magic byte, schema id) reads every record.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { decodeRecord } from '../../src/codec/avro.js';
import { ConfluentCodec, createHttpSchemaRegistryClient, type FetchLike } from '../../src/codec/confluent.js';
import { modelSnapshotFromRecord } from '../../src/codec/mapping.js';
import { SCHEMA_NAMES, type ModelSnapshotRecord } from '../../src/codec/records.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { createClassifier } from '../../src/learn/factory.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { modelSpace } from '../../src/topology/pipeline.js';
import { startTopology } from '../../src/topology/runner.js';
import { readReviews } from '../support/data.js';
import { readTopic, testKafka, type Consumed } from '../support/kafka.js';
import { startFakeRegistry, type FakeRegistry } from '../support/schema-registry.js';
import { freshTopology } from '../support/topology.js';

const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url));
const kafka = testKafka('confluent-outputs');
let registry: FakeRegistry;

before(async () => {
  registry = await startFakeRegistry();
});
after(async () => {
  await registry.close();
});

const readAll = (topic: string, expectedAtLeast: number, timeoutMs?: number): Promise<Consumed[]> => readTopic(kafka, topic, expectedAtLeast, timeoutMs);

/** What a consumer with only the .avsc file does: check the magic byte, take the id, decode the rest. */
function readFramed(value: Buffer, avscFile: string): { id: number; record: Record<string, unknown> } {
  assert.equal(value[0], 0, 'magic byte');
  const type = avro.Type.forSchema(JSON.parse(readFileSync(`${schemasDir}${avscFile}`, 'utf8')) as avro.schema.AvroSchema);
  return { id: value.readUInt32BE(1), record: type.fromBuffer(value.subarray(5)) as Record<string, unknown> };
}

test('outputs.format confluent: framed records on the real broker, schemas under <topic>-value, .avsc-only readers', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    evaluate: { ...base.evaluate, reportEveryMs: 0 },
    outputs: {
      ...base.outputs,
      snapshots: { topic: `${base.name}.snapshots`, everyMessages: 1000 },
      format: 'confluent',
      schemaRegistry: { url: registry.url, subjectStrategy: 'topic-name', timeoutMs: 5_000 },
    },
  }));
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const reviews = readReviews().slice(0, 3000);
  const unlabelled = ['送餐很快，味道很好', '菜是凉的，太难吃了', '一般般'];
  await feedLines(kafka, [...reviews.map((r) => JSON.stringify(r)), ...unlabelled.map((text, i) => JSON.stringify({ id: `u${i}`, text }))], {
    topic,
    format: 'json',
    jsonInput: true,
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'bad', value: Buffer.from('{"text": "truncated') }] });
  await producer.disconnect();

  const featurizer = createFeaturizer(t.features);
  const tokenizer = createTokenizer(t.tokenize);
  const probes = unlabelled.map((s) => featurizer.featurize(tokenizer.tokenize(s).tokens));
  const liveAtSnapshot = new Map<number, Float64Array[]>();
  const run = await startTopology(t, {
    kafka,
    idleExitMs: 2_500,
    onOutput: (o) => {
      if (o.kind === 'snapshot') liveAtSnapshot.set(o.record.version, probes.map((x) => run.state.learner.model!.predictProba(x)));
    },
  });
  const summary = await run.finished;
  assert.equal(summary.labelled, reviews.length);

  // One subject per output topic (TopicNameStrategy), holding exactly the .avsc text of that output.
  const outputs = [
    [t.outputs.metrics!.topic, 'metrics'],
    [t.outputs.snapshots!.topic, 'model-snapshot'],
    [t.outputs.predictions!.topic, 'prediction'],
    [t.outputs.deadLetters!.topic, 'dead-letter'],
  ] as const;
  assert.deepEqual([...registry.subjects.keys()].sort(), outputs.map(([topic]) => `${topic}-value`).sort());

  for (const [topic, stem] of outputs) {
    const records = await readAll(topic, 1);
    assert.ok(records.length > 0, `${topic} has records`);
    const [id] = registry.subjects.get(`${topic}-value`)!;
    const version = String(records[0]!.headers['tokrs-schema-version']);
    const avscFile = `${stem}.v${version}.avsc`;
    assert.equal(registry.schemas.get(id!), readFileSync(`${schemasDir}${avscFile}`, 'utf8'), `${topic}: the registered schema is ${avscFile}`);
    for (const r of records) {
      const { id: framedId, record } = readFramed(r.value, avscFile);
      assert.equal(framedId, id, `${topic}: the schema id of the record is the one registered for its subject`);
      assert.equal(record.topology, t.name);
    }
  }

  // Metrics: the last record counts the stream exactly.
  const metrics = (await readAll(t.outputs.metrics!.topic, 3)).map((m) => readFramed(m.value, `metrics.v${String(m.headers['tokrs-schema-version'])}.avsc`).record);
  const counts = metrics.at(-1)!.counts as Record<string, number>;
  assert.equal(counts.labelled, reviews.length);
  assert.equal(counts.seen, reviews.length + unlabelled.length + 1);

  // Predictions for the unlabelled messages; the dead letter with its reason.
  const predictions = (await readAll(t.outputs.predictions!.topic, unlabelled.length)).map((m) => readFramed(m.value, 'prediction.v1.avsc').record);
  assert.equal(predictions.length, unlabelled.length);
  assert.ok(predictions.every((p) => p.trueLabel === null && typeof p.label === 'string'), JSON.stringify(predictions));
  const deadLetters = (await readAll(t.outputs.deadLetters!.topic, 1)).map((m) => readFramed(m.value, 'dead-letter.v1.avsc').record);
  assert.deepEqual(deadLetters.map((d) => d.errorCode), ['TOKRS_ERR_DECODE']);

  // Snapshots read through the framing restore into a classifier that predicts as the live model did.
  const snapshots = (await readAll(t.outputs.snapshots!.topic, 3)).map((m) => readFramed(m.value, 'model-snapshot.v1.avsc').record as unknown as ModelSnapshotRecord);
  assert.deepEqual(snapshots.map((s) => s.version), [1, 2, 3]);
  for (const s of snapshots) {
    const model = createClassifier(t.model, modelSpace(t));
    model.restore(modelSnapshotFromRecord(s));
    assert.deepEqual(probes.map((x) => model.predictProba(x)), liveAtSnapshot.get(s.version));
  }

  // tokrs's own readers (tail, the dashboard) read them from the headers; a Confluent-style reader
  // fetches the writer schema by id from the registry.
  const [first] = await readAll(t.outputs.metrics!.topic, 1);
  assert.equal(decodeRecord(SCHEMA_NAMES.metrics, first!.value, first!.headers).topology, t.name);
  const codec = new ConfluentCodec(createHttpSchemaRegistryClient({ url: registry.url, fetch: fetch as unknown as FetchLike }));
  const decoded = await codec.decode(first!.value);
  assert.equal(decoded.name, 'dev.tokrs.Metrics');
  assert.equal((decoded.record as { topology: string }).topology, t.name);
});

test('outputs.format confluent: a registry that refuses the schema stops the run at start, before reading', async () => {
  const t = freshTopology('waimai-sentiment.yaml', (base) => ({
    ...base,
    outputs: { ...base.outputs, format: 'confluent', schemaRegistry: { url: registry.url, subjectStrategy: 'topic-name', timeoutMs: 5_000 } },
  }));
  registry.failNext(409, 1);
  await assert.rejects(startTopology(t, { kafka, idleExitMs: 1_000 }), /schema registry POST .*-value\/versions: HTTP 409/);
});
