import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import {
  ConfluentCodec,
  type FetchLike,
  type SchemaRegistryClient,
  createHttpSchemaRegistryClient,
  frameConfluent,
  unframeConfluent,
} from '../../src/codec/confluent.js';
import { defaultSchemas } from '../../src/codec/schemas.js';
import { isTokrsError } from '../../src/errors.js';
import { metricsV1, metricsV2, plain, prediction } from './fixtures.js';

/** The registry's contract, in memory: ids are global and immutable, the same schema text gets the same id. */
class InMemoryRegistry implements SchemaRegistryClient {
  readonly schemas: string[] = [];
  readonly subjects = new Map<string, number[]>();
  calls = { get: 0, register: 0 };

  async getSchemaById(id: number): Promise<string> {
    this.calls.get++;
    const schema = this.schemas[id - 1];
    if (schema === undefined) throw new Error(`Schema ${id} not found`);
    return schema;
  }

  async register(subject: string, schema: string): Promise<number> {
    this.calls.register++;
    let id = this.schemas.indexOf(schema) + 1;
    if (id === 0) id = this.schemas.push(schema);
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.includes(id)) versions.push(id);
    this.subjects.set(subject, versions);
    return id;
  }
}

describe('Confluent framing', () => {
  it('round trip: magic byte 0, big-endian id, body', () => {
    const body = Buffer.from([1, 2, 3]);
    const framed = frameConfluent(0x01020304, body);
    assert.deepEqual([...framed], [0, 1, 2, 3, 4, 1, 2, 3]);
    const { schemaId, body: back } = unframeConfluent(framed);
    assert.equal(schemaId, 0x01020304);
    assert.ok(back.equals(body));
    assert.equal(unframeConfluent(frameConfluent(0xffffffff, Buffer.alloc(0))).schemaId, 0xffffffff);
  });

  it('rejects a bad magic byte and a value too short for the header with DECODE', () => {
    assert.throws(() => unframeConfluent(Buffer.from([1, 0, 0, 0, 1, 9])), (e) =>
      isTokrsError(e, 'TOKRS_ERR_DECODE') && /magic byte 0, got 1/.test(e.message),
    );
    assert.throws(() => unframeConfluent(Buffer.from([0, 0, 1])), (e) => isTokrsError(e, 'TOKRS_ERR_DECODE'));
    assert.throws(() => frameConfluent(-1, Buffer.alloc(0)), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
  });
});

describe('ConfluentCodec with an in-memory registry', () => {
  it('registers once per subject and schema, and decodes its own records', async () => {
    const registry = new InMemoryRegistry();
    const codec = new ConfluentCodec(registry);
    const a = await codec.encode('dev.tokrs.Prediction', prediction, 'predictions');
    const b = await codec.encode('dev.tokrs.Prediction', prediction, 'predictions');
    assert.ok(a.equals(b));
    assert.equal(registry.calls.register, 1);
    assert.deepEqual([...registry.subjects.keys()], ['predictions-value']);
    assert.equal(a[0], 0);

    const decoded = await codec.decode(a, 'dev.tokrs.Prediction');
    assert.equal(decoded.name, 'dev.tokrs.Prediction');
    assert.deepEqual(plain(decoded.record), plain(prediction));
    // Writer schemas are cached by id.
    await new ConfluentCodec(registry).decode(a);
    const before = registry.calls.get;
    await codec.decode(a);
    assert.equal(registry.calls.get, before);
  });

  it('resolves a v1 writer schema fetched by id to the local latest reader', async () => {
    const registry = new InMemoryRegistry();
    const codec = new ConfluentCodec(registry);
    const v1 = await codec.encode('dev.tokrs.Metrics', metricsV1, 'metrics', 1);
    const v2 = await codec.encode('dev.tokrs.Metrics', metricsV2, 'metrics');
    assert.notEqual(v1.readUInt32BE(1), v2.readUInt32BE(1));
    const read1 = await codec.decode(v1, 'dev.tokrs.Metrics');
    assert.deepEqual(plain(read1.record), plain({ ...metricsV1, instance: null, lag: null, partitions: [] }));
    const read2 = await codec.decode(v2, 'dev.tokrs.Metrics', 1);
    assert.deepEqual(plain(read2.record), plain(metricsV1));
  });

  it('decodes a schema it does not know locally with the writer schema', async () => {
    const registry = new InMemoryRegistry();
    const foreign = avro.Type.forSchema({ type: 'record', name: 'x.Other', fields: [{ name: 'n', type: 'int' }] });
    const id = await registry.register('other-value', JSON.stringify(foreign.schema()));
    const codec = new ConfluentCodec(registry);
    const decoded = await codec.decode(frameConfluent(id, foreign.toBuffer({ n: 5 })));
    assert.equal(decoded.name, 'x.Other');
    assert.deepEqual(plain(decoded.record), { n: 5 });
  });

  it('an unknown id fails, and is retried on the next call', async () => {
    const registry = new InMemoryRegistry();
    const codec = new ConfluentCodec(registry);
    const framed = frameConfluent(1, Buffer.from([2, 0x61]));
    await assert.rejects(codec.decode(framed), /not found/);
    await registry.register('s', JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 's', type: 'string' }] }));
    assert.deepEqual(plain((await codec.decode(framed)).record), { s: 'a' });
  });

  it('a truncated body is a DECODE error', async () => {
    const codec = new ConfluentCodec(new InMemoryRegistry());
    const framed = await codec.encode('dev.tokrs.Prediction', prediction, 'p');
    await assert.rejects(codec.decode(framed.subarray(0, framed.length - 4), 'dev.tokrs.Prediction'), (e) =>
      isTokrsError(e, 'TOKRS_ERR_DECODE'),
    );
  });
});

describe('HTTP schema registry client', () => {
  it('speaks the Confluent REST API through the injected fetch', async () => {
    const requests: { url: string; method: string; body?: string; headers: Record<string, string> }[] = [];
    const fetch: FetchLike = async (url, init) => {
      requests.push({ url, ...init });
      if (init.method === 'POST') return { ok: true, status: 200, text: async () => '{"id":21}' };
      if (url.endsWith('/schemas/ids/21')) {
        return { ok: true, status: 200, text: async () => JSON.stringify({ schema: defaultSchemas().latest('prediction').text }) };
      }
      return { ok: false, status: 404, text: async () => '{"error_code":40403,"message":"Schema not found"}' };
    };
    const client = createHttpSchemaRegistryClient({ url: 'http://registry:8081/', fetch, auth: { username: 'u', password: 'p' } });
    assert.equal(await client.register('predictions-value', '"string"'), 21);
    assert.equal(requests[0].url, 'http://registry:8081/subjects/predictions-value/versions');
    assert.deepEqual(JSON.parse(requests[0].body ?? ''), { schema: '"string"' });
    assert.equal(requests[0].headers['Content-Type'], 'application/vnd.schemaregistry.v1+json');
    assert.equal(requests[0].headers.Authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.match(await client.getSchemaById(21), /dev\.tokrs/);
    await assert.rejects(client.getSchemaById(3), (e) => isTokrsError(e, 'TOKRS_ERR_KAFKA') && !e.retriable && /404/.test(e.message));
  });

  it('server errors and network failures are retriable', async () => {
    const down = createHttpSchemaRegistryClient({
      url: 'http://r',
      fetch: async () => ({ ok: false, status: 503, text: async () => 'unavailable' }),
    });
    await assert.rejects(down.getSchemaById(1), (e) => isTokrsError(e, 'TOKRS_ERR_KAFKA') && e.retriable);
    const unreachable = createHttpSchemaRegistryClient({
      url: 'http://r',
      fetch: async () => {
        throw new Error('ECONNREFUSED');
      },
    });
    await assert.rejects(unreachable.register('s', '{}'), (e) => isTokrsError(e, 'TOKRS_ERR_KAFKA') && e.retriable);
  });
});
