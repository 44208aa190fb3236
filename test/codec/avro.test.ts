import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import avro from 'avsc';
import {
  HEADER_FINGERPRINT,
  HEADER_SCHEMA,
  HEADER_VERSION,
  decodeAny,
  decodeRecord,
  encodeRecord,
} from '../../src/codec/avro.js';
import type { SchemaName } from '../../src/codec/records.js';
import { SCHEMA_NAMES } from '../../src/codec/records.js';
import { defaultSchemas, loadSchemas } from '../../src/codec/schemas.js';
import { isTokrsError } from '../../src/errors.js';
import { SAMPLES, metricsV1, metricsV2, plain, textEvent } from './fixtures.js';

const SCHEMA_DIR = new URL('../../schemas/', import.meta.url);
const names = Object.keys(SAMPLES) as SchemaName[];

/** What an outside consumer does: read the .avsc file its headers name, parse it with avsc, nothing else. */
function outsideDecode(value: Buffer, headers: Record<string, string>): unknown {
  const stem = headers[HEADER_SCHEMA].replace(/^dev\.tokrs\./, '').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
  const file = new URL(`${stem}.v${headers[HEADER_VERSION]}.avsc`, SCHEMA_DIR);
  const type = avro.Type.forSchema(JSON.parse(readFileSync(file, 'utf8')));
  assert.equal(type.fingerprint('sha256').toString('hex'), headers[HEADER_FINGERPRINT], 'fingerprint header');
  return type.fromBuffer(value);
}

describe('schema store', () => {
  it('loads every schema with its versions', () => {
    const store = defaultSchemas();
    assert.deepEqual(store.names(), Object.values(SCHEMA_NAMES).sort());
    assert.deepEqual(store.versions('dev.tokrs.Metrics').map((e) => e.version), [1, 2, 3]);
    assert.equal(store.latest('metrics').version, 3);
    assert.equal(store.get('text-event', 1).name, 'dev.tokrs.TextEvent');
  });

  it('refuses an unknown schema or version with a SCHEMA error', () => {
    const store = defaultSchemas();
    assert.throws(() => store.get('dev.tokrs.Nope'), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA') && /known:/.test(e.message));
    assert.throws(() => store.get('dev.tokrs.Metrics', 9), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
  });

  it('resolves the folder from the module, not the working directory', () => {
    const cwd = process.cwd();
    process.chdir('/');
    try {
      assert.equal(loadSchemas().latest('checkpoint').name, 'dev.tokrs.Checkpoint');
    } finally {
      process.chdir(cwd);
    }
  });

  it('every field of every schema has a doc string', () => {
    for (const name of names) {
      const json = JSON.parse(readFileSync(new URL(SAMPLES[name].file, SCHEMA_DIR), 'utf8')) as unknown;
      const missing: string[] = [];
      const walk = (node: unknown, path: string): void => {
        if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
        if (typeof node !== 'object' || node === null) return;
        const obj = node as Record<string, unknown>;
        if (Array.isArray(obj.fields)) {
          for (const f of obj.fields as Record<string, unknown>[]) {
            if (typeof f.doc !== 'string' || f.doc.length === 0) missing.push(`${path}.${String(f.name)}`);
            walk(f.type, `${path}.${String(f.name)}`);
          }
        }
        walk(obj.items, path);
        walk(obj.values, path);
      };
      walk(json, name);
      assert.deepEqual(missing, [], `${name}: fields without doc`);
    }
  });
});

describe('round trips', () => {
  for (const name of names) {
    it(`${name}: encode then decode gives the record back, headers name the schema`, () => {
      const { record, version } = SAMPLES[name];
      const encoded = encodeRecord(name, record as never);
      assert.equal(encoded.headers[HEADER_SCHEMA], name);
      assert.equal(encoded.headers[HEADER_VERSION], String(version));
      assert.match(encoded.headers[HEADER_FINGERPRINT], /^[0-9a-f]{64}$/);
      assert.deepEqual(plain(decodeRecord(name, encoded.value, encoded.headers)), plain(record));
      const any = decodeAny(encoded.value, encoded.headers);
      assert.equal(any.schema.name, name);
      assert.deepEqual(plain(any.record), plain(record));
    });

    it(`${name}: 50 random values of the schema survive a round trip`, () => {
      const entry = defaultSchemas().latest(name);
      for (let i = 0; i < 50; i++) {
        const value: unknown = entry.type.random();
        const encoded = encodeRecord(name, value as never);
        const again = encodeRecord(name, decodeRecord(name, encoded.value, encoded.headers) as never);
        assert.ok(again.value.equals(encoded.value));
      }
    });

    it(`${name}: a consumer with only the .avsc file decodes what tokrs encodes`, () => {
      const { record } = SAMPLES[name];
      const encoded = encodeRecord(name, record as never);
      assert.deepEqual(plain(outsideDecode(encoded.value, encoded.headers)), plain(record));
    });
  }

  it('fields left out are written with their schema defaults', () => {
    const encoded = encodeRecord('dev.tokrs.TextEvent', { text: 'hi' });
    assert.deepEqual(plain(decodeRecord('dev.tokrs.TextEvent', encoded.value)), {
      id: null,
      text: 'hi',
      label: null,
      timestamp: null,
      attributes: {},
    });
  });

  it('a record that does not match is refused with a SCHEMA error naming the field', () => {
    const bad = { ...metricsV1, counts: { ...metricsV1.counts, seen: -0.5 } };
    assert.throws(
      () => encodeRecord('dev.tokrs.Metrics', bad),
      (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA') && e.message.includes('counts.seen: expected long, got -0.5'),
    );
    // avsc longs are JS numbers: a value beyond 2^53 is refused, not rounded.
    assert.throws(() => encodeRecord('dev.tokrs.Prediction', { topology: 't', id: 'x', timestamp: 2 ** 60 }), (e) =>
      isTokrsError(e, 'TOKRS_ERR_SCHEMA'),
    );
  });

  it('truncated bytes and trailing bytes are DECODE errors', () => {
    const { value, headers } = encodeRecord('dev.tokrs.TextEvent', textEvent);
    assert.throws(() => decodeRecord('dev.tokrs.TextEvent', value.subarray(0, value.length - 3), headers), (e) =>
      isTokrsError(e, 'TOKRS_ERR_DECODE'),
    );
    assert.throws(() => decodeRecord('dev.tokrs.TextEvent', Buffer.concat([value, Buffer.from([0])]), headers), (e) =>
      isTokrsError(e, 'TOKRS_ERR_DECODE'),
    );
  });

  it('headers naming another schema, version or fingerprint are SCHEMA errors', () => {
    const { value, headers } = encodeRecord('dev.tokrs.Prediction', SAMPLES['dev.tokrs.Prediction'].record);
    assert.throws(() => decodeRecord('dev.tokrs.Metrics', value, headers), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
    const unknownVersion = { [HEADER_SCHEMA]: 'dev.tokrs.Prediction', [HEADER_VERSION]: '99' };
    assert.throws(() => decodeRecord('dev.tokrs.Prediction', value, unknownVersion), (e) =>
      isTokrsError(e, 'TOKRS_ERR_SCHEMA'),
    );
    const wrongPrint = { ...headers, [HEADER_FINGERPRINT]: '00'.repeat(32) };
    assert.throws(() => decodeRecord('dev.tokrs.Prediction', value, wrongPrint), (e) =>
      isTokrsError(e, 'TOKRS_ERR_SCHEMA') && e.message.includes('differs'),
    );
    assert.throws(() => decodeAny(value, {}), (e) => isTokrsError(e, 'TOKRS_ERR_SCHEMA'));
  });

  it('headers as KafkaJS delivers them (Buffers) are understood', () => {
    const { value, headers } = encodeRecord('dev.tokrs.Metrics', metricsV1, { version: 1 });
    const kafkaHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    assert.equal(decodeAny(value, kafkaHeaders).schema.version, 1);
  });
});

describe('schema evolution', () => {
  it('reading v1 metrics records with the v2 schema (avsc createResolver) fills the new fields with defaults', () => {
    // Outside tokrs: only the two .avsc files and avsc.
    const v1 = avro.Type.forSchema(JSON.parse(readFileSync(new URL('metrics.v1.avsc', SCHEMA_DIR), 'utf8')));
    const v2 = avro.Type.forSchema(JSON.parse(readFileSync(new URL('metrics.v2.avsc', SCHEMA_DIR), 'utf8')));
    const written = v1.toBuffer(metricsV1);
    const read: unknown = v2.fromBuffer(written, v2.createResolver(v1));
    assert.deepEqual(plain(read), plain({ ...metricsV1, instance: null, lag: null }));

    // Through tokrs: the writer version comes from the headers, the reader is the latest (v3 adds partitions).
    const encoded = encodeRecord('dev.tokrs.Metrics', metricsV1, { version: 1 });
    assert.equal(encoded.headers[HEADER_VERSION], '1');
    assert.deepEqual(plain(decodeRecord('dev.tokrs.Metrics', encoded.value, encoded.headers)), plain({ ...(read as object), partitions: [] }));
  });

  it('reading v2 metrics records with the v3 schema gives no partition totals', () => {
    const encoded = encodeRecord('dev.tokrs.Metrics', metricsV2, { version: 2 });
    assert.deepEqual(plain(decodeRecord('dev.tokrs.Metrics', encoded.value, encoded.headers)), plain({ ...metricsV2, partitions: [] }));
  });

  it('reading v2 metrics records with the v1 schema drops the new fields', () => {
    const encoded = encodeRecord('dev.tokrs.Metrics', SAMPLES['dev.tokrs.Metrics'].record);
    const read = decodeRecord('dev.tokrs.Metrics', encoded.value, encoded.headers, { version: 1 });
    assert.deepEqual(plain(read), plain(metricsV1));
  });
});
