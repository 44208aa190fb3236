import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { decodeAny, decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES, type MetricsRecord } from '../../src/codec/records.js';
import { parseTopology } from '../../src/topology/load.js';
import { createOutputEncoder, encodeOutput } from '../../src/topology/outputs.js';
import type { TopologyOutput } from '../../src/topology/pipeline.js';
import { startFakeRegistry, type FakeRegistry } from '../support/schema-registry.js';
import { metricsV2 as metricsRecord } from '../codec/fixtures.js';

const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url));
let registry: FakeRegistry;
before(async () => {
  registry = await startFakeRegistry();
});
after(async () => {
  await registry.close();
});

const yaml = (outputs: string): string => `name: t
source:
  topics: [in]
outputs:
  metrics: { topic: t.metrics }
  predictions: { topic: t.predictions }
${outputs}`;

const metricsOutput = (): TopologyOutput => ({ kind: 'metrics', record: metricsRecord as MetricsRecord, report: undefined as never });

test('outputs.format and schemaRegistry: invalid settings are refused at load with file:line, path, expected and found', () => {
  const refused = (text: string, pattern: RegExp) => assert.throws(() => parseTopology(text, 'x.yaml'), pattern);
  refused(yaml('  format: confluent\n'), /x\.yaml:7: outputs\.format is confluent, which needs outputs\.schemaRegistry: \{ url: http:\/\/host:8081 \} .*got no outputs\.schemaRegistry/);
  refused(yaml('  format: protobuf\n'), /x\.yaml:7: outputs\.format must be one of "avro", "confluent", got "protobuf"/);
  refused(yaml('  format: confluent\n  schemaRegistry: { url: "ftp://registry" }\n'), /x\.yaml:8: outputs\.schemaRegistry\.url must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/registry"/);
  refused(yaml('  format: confluent\n  schemaRegistry: { url: "http://r:8081", subjectStrategy: record-name }\n'), /x\.yaml:8: outputs\.schemaRegistry\.subjectStrategy must be one of "topic-name", got "record-name"/);
  refused(yaml('  format: confluent\n  schemaRegistry: { url: "http://r:8081", auth: { username: u, password: hunter2 } }\n'), /outputs\.schemaRegistry\.auth\.password is not a known field/);
  refused(yaml('  schemaRegistry: { url: "http://r:8081" }\n'), /x\.yaml:7: outputs\.schemaRegistry is only used with outputs\.format: confluent, got outputs\.format avro/);
  const t = parseTopology(yaml('  format: confluent\n  schemaRegistry: { url: "http://r:8081" }\n'), 'x.yaml');
  assert.deepEqual(t.outputs.schemaRegistry, { url: 'http://r:8081', subjectStrategy: 'topic-name', timeoutMs: 10_000 });
  assert.equal(parseTopology(yaml(''), 'x.yaml').outputs.format, 'avro');
});

test('confluent encoder: registers each output schema under <prefix><topic>-value once, frames records with its id', async () => {
  const t = parseTopology(yaml(`  format: confluent\n  schemaRegistry: { url: "${registry.url}" }\n`), 'x.yaml');
  assert.throws(() => encodeOutput(t, metricsOutput()), /createOutputEncoder/);
  const encoder = await createOutputEncoder(t, { topicPrefix: 'bt.' });
  assert.deepEqual([...registry.subjects.keys()].sort(), ['bt.t.metrics-value', 'bt.t.predictions-value']);
  const record = encoder.encode(metricsOutput())!;
  assert.equal(record.topic, 'bt.t.metrics');
  assert.equal(record.key, 't');
  const id = registry.subjects.get('bt.t.metrics-value')![0]!;
  assert.equal(record.value[0], 0);
  assert.equal(record.value.readUInt32BE(1), id);
  // The registered schema is the .avsc file as shipped, and it alone decodes the body.
  const file = `${schemasDir}metrics.v${String(record.headers!['tokrs-schema-version'])}.avsc`;
  assert.equal(registry.schemas.get(id), readFileSync(file, 'utf8'));
  const type = avro.Type.forSchema(JSON.parse(readFileSync(file, 'utf8')) as avro.schema.AvroSchema);
  assert.deepEqual(type.fromBuffer(record.value.subarray(5)), type.fromBuffer(type.toBuffer(metricsRecord)));
  // tokrs readers (tail, dashboard) see the framing header and skip it.
  assert.equal(record.headers!['tokrs-framing'], 'confluent');
  const headers = record.headers as Record<string, string>;
  assert.equal(decodeRecord(SCHEMA_NAMES.metrics, record.value, headers).topology, metricsRecord.topology);
  assert.equal(decodeAny(record.value, headers).schema.name, SCHEMA_NAMES.metrics);
  // Outputs the topology does not publish are not encoded.
  assert.equal(encoder.encode({ kind: 'snapshot', record: {} as never }), undefined);
});

test('confluent encoder: a registry answering 503 is retried; a refusal (409) fails at once with its answer', async () => {
  const t = parseTopology(yaml(`  format: confluent\n  schemaRegistry: { url: "${registry.url}" }\n`), 'x.yaml');
  registry.failNext(503, 2);
  const before = registry.requests.length;
  await createOutputEncoder(t, { retry: { retries: 3, initialMs: 1, maxMs: 5 } });
  assert.equal(registry.requests.length - before, 4, 'two failures, then the two registrations');
  registry.failNext(409, 1);
  await assert.rejects(createOutputEncoder(t, { retry: { retries: 3, initialMs: 1, maxMs: 5 } }), (e: unknown) => {
    const err = e as { code?: string; message: string };
    return err.code === 'TOKRS_ERR_KAFKA' && /POST .*\/subjects\/t\.metrics-value\/versions: HTTP 409/.test(err.message);
  });
});

test('avro encoder: plain Avro with the prefix before the topic, no registry involved', async () => {
  const t = parseTopology(yaml(''), 'x.yaml');
  const requests = registry.requests.length;
  const encoder = await createOutputEncoder(t, { topicPrefix: 'p.' });
  const record = encoder.encode(metricsOutput())!;
  assert.equal(record.topic, 'p.t.metrics');
  assert.equal(record.headers!['tokrs-framing'], undefined);
  assert.equal(decodeRecord(SCHEMA_NAMES.metrics, record.value, record.headers as Record<string, string>).topology, metricsRecord.topology);
  assert.equal(registry.requests.length, requests);
});
