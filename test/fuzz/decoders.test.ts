/**
 * Fuzzing the input decoders (text, json, avro): random bytes, random JSON documents, and mutations of
 * valid encoded text events. Whatever comes in, a decoder returns a well-formed record or throws a
 * TokrsError with a stable code (DECODE, FIELD, LIMIT, SCHEMA): never a TypeError, never a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HEADER_FINGERPRINT, HEADER_SCHEMA, HEADER_VERSION, encodeRecord, type KafkaHeaders } from '../../src/codec/avro.js';
import { createDecoder, type InputDecoder, type MessageMeta } from '../../src/codec/input.js';
import type { TextEventRecord } from '../../src/codec/records.js';
import { defaultSchemas } from '../../src/codec/schemas.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { TextRecord } from '../../src/topology/record.js';
import { runs, typedOrOk } from './support.js';

const limits = { maxBytes: 64 * 1024, maxTextLength: 4_000 };
const decoders: Record<'text' | 'json' | 'avro', InputDecoder> = {
  text: createDecoder({ format: 'text', limits }),
  json: createDecoder({ format: 'json', fields: { attributes: 'attrs' }, limits }),
  avro: createDecoder({ format: 'avro', limits }),
};
const DECODE_CODES = [ERROR_CODES.DECODE, ERROR_CODES.FIELD, ERROR_CODES.LIMIT, ERROR_CODES.SCHEMA];

const store = defaultSchemas();
const textEventEntry = store.latest('dev.tokrs.TextEvent');
const metricsEntry = store.latest('dev.tokrs.Metrics');

/** Headers a message may carry: none, ours, another schema's, or garbage. */
const headersArb: fc.Arbitrary<KafkaHeaders | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  fc.constant({ [HEADER_SCHEMA]: textEventEntry.name, [HEADER_VERSION]: String(textEventEntry.version), [HEADER_FINGERPRINT]: textEventEntry.fingerprint }),
  fc.constant({ [HEADER_SCHEMA]: metricsEntry.name, [HEADER_VERSION]: String(metricsEntry.version) }),
  fc.constant({ [HEADER_FINGERPRINT]: metricsEntry.fingerprint }),
  fc.record({
    [HEADER_SCHEMA]: fc.oneof(fc.string(), fc.constant(textEventEntry.name)),
    [HEADER_VERSION]: fc.oneof(fc.string(), fc.nat().map(String), fc.constant('1')),
    [HEADER_FINGERPRINT]: fc.oneof(fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))),
  }, { requiredKeys: [] }),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.uint8Array().map((b) => Buffer.from(b)), fc.array(fc.string()))),
);

const metaArb: fc.Arbitrary<MessageMeta> = fc.record({
  topic: fc.constant('fuzz'),
  partition: fc.nat(8),
  offset: fc.bigInt({ min: 0n, max: 1n << 40n }).map(String),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 0, max: 2 ** 45 }).map(String), fc.constant('not-a-number')),
});

/** A decoded record must be what later stages rely on. */
function checkRecord(record: TextRecord): void {
  assert.equal(typeof record.text, 'string');
  assert.ok(record.text.length > 0 && record.text.length <= limits.maxTextLength);
  assert.equal(typeof record.id, 'string');
  assert.ok(Number.isFinite(record.timestamp));
  if (record.label !== undefined) assert.ok(typeof record.label === 'string' && record.label.length > 0);
  if (record.attributes !== undefined) for (const v of Object.values(record.attributes)) assert.equal(typeof v, 'string');
}

function decodeChecked(decoder: InputDecoder, value: Buffer | null, meta: MessageMeta, headers?: KafkaHeaders): void {
  let record: TextRecord | undefined;
  typedOrOk(() => (record = decoder(value, headers === undefined ? meta : { ...meta, headers })), 500, DECODE_CODES);
  if (record !== undefined) checkRecord(record);
}

/** Byte-level mutations: flip, overwrite, insert, delete, truncate, duplicate a slice. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(input: Buffer, steps: readonly Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of steps) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[at] ^= 1 << m.bit;
    else if (m.kind === 'set' && b.length > 0) b[at] = m.byte;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'repeat') b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.count), b.subarray(at)]);
  }
  return b;
}

/** Strings with what breaks naive code: lone surrogates, controls, NUL, astral characters. */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', '\u0000', '\ud800', '\udc00x', '\ufeff', '很快，好吃', '😀', '\r\n', '__proto__', 'constructor'),
);

const textEventArb: fc.Arbitrary<TextEventRecord> = fc.record({
  id: fc.option(nastyString, { nil: null }),
  text: nastyString,
  label: fc.option(nastyString, { nil: null }),
  timestamp: fc.option(fc.integer({ min: -(2 ** 40), max: 2 ** 45 }), { nil: null }),
  attributes: fc.dictionary(nastyString, nastyString, { maxKeys: 4 }),
});

/** Any JSON-ish value for a field, including the wrong types and deep nesting. */
const fieldValue = fc.oneof(
  nastyString,
  fc.jsonValue({ maxDepth: 3 }),
  fc.double(),
  fc.constantFrom(null, true, 0, -1, 1e300, 2 ** 53 + 1, '2024-06-01T00:00:00Z', '1700000000000'),
);

describe('fuzz: input decoders', () => {
  it('random bytes through every format, with random headers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('text', 'json', 'avro' as const),
        fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b))),
        metaArb,
        headersArb,
        (format, value, meta, headers) => decodeChecked(decoders[format as 'text'], value, meta, headers),
      ),
      runs(3000),
    );
  });

  it('mutated Avro text events (with and without headers)', () => {
    fc.assert(
      fc.property(textEventArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), metaArb, (event, steps, withHeaders, meta) => {
        const encoded = encodeRecord('dev.tokrs.TextEvent', event);
        decodeChecked(decoders.avro, mutate(encoded.value, steps), meta, withHeaders ? encoded.headers : undefined);
      }),
      runs(3000),
    );
  });

  it('regression: a flipped byte that makes a map block count of 13 billion is refused at once', () => {
    // The timestamp's first byte 0x80 → 0x7f ends it early; the next bytes read as the attributes' block count.
    const body = Buffer.from('02066162630a68656c6c6f0206706f73027fa0abfef96204026102620263026400', 'hex');
    const code = typedOrOk(() => decoders.avro(body, { topic: 'fuzz', partition: 0, offset: '0', timestamp: 0 }), 100);
    assert.equal(code, ERROR_CODES.DECODE);
  });

  it('valid Avro text events decode to what was written (or a FIELD/LIMIT rejection)', () => {
    fc.assert(
      fc.property(textEventArb, metaArb, (event, meta) => {
        const encoded = encodeRecord('dev.tokrs.TextEvent', event);
        let record: TextRecord | undefined;
        typedOrOk(() => (record = decoders.avro(encoded.value, { ...meta, timestamp: 1 })), 500, [ERROR_CODES.FIELD, ERROR_CODES.LIMIT]);
        if (record !== undefined) {
          checkRecord(record);
          // avsc writes a lone surrogate as its 3-byte CESU form, which reads back as U+FFFD characters.
          if (!/[\ud800-\udfff]/.test(event.text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) assert.equal(record.text, event.text);
        }
      }),
      runs(1000),
    );
  });

  it('random JSON documents with the expected fields of any type', () => {
    const doc = fc.record(
      { text: fieldValue, label: fieldValue, id: fieldValue, timestamp: fieldValue, attrs: fc.oneof(fieldValue, fc.dictionary(nastyString, fieldValue)) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(doc, fc.jsonValue()), metaArb, (value, meta) => {
        decodeChecked(decoders.json, Buffer.from(JSON.stringify(value) ?? 'null'), meta);
      }),
      runs(3000),
    );
  });

  it('mutated JSON and text events', () => {
    fc.assert(
      fc.property(
        fc.record({ text: nastyString, label: fc.option(nastyString, { nil: null }), id: fc.option(fc.oneof(nastyString, fc.integer()), { nil: null }) }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        metaArb,
        (event, steps, meta) => {
          const bytes = mutate(Buffer.from(JSON.stringify(event)), steps);
          decodeChecked(decoders.json, bytes, meta);
          decodeChecked(decoders.text, bytes, meta);
        },
      ),
      runs(3000),
    );
  });

  it('pathological JSON: deep nesting in any field, huge numbers, many keys', () => {
    const deep = (depth: number, open: string, close: string, inner = '1'): string => open.repeat(depth) + inner + close.repeat(depth);
    const big = { maxBytes: 4 * 1024 * 1024, maxTextLength: 4_000 };
    const decoder = createDecoder({ format: 'json', fields: { attributes: 'attrs' }, limits: big });
    fc.assert(
      fc.property(
        fc.constantFrom('text', 'label', 'id', 'timestamp', 'attrs'),
        fc.integer({ min: 1_000, max: 200_000 }),
        fc.constantFrom(['[', ']'], ['{"a":', '}']),
        (field, depth, [open, close]) => {
          const value = `{"text":"ok","${field}":${deep(depth, open!, close!)}}`;
          const meta = { topic: 'fuzz', partition: 0, offset: '0', timestamp: 0 };
          typedOrOk(() => decoder(Buffer.from(value), meta), 2_000, DECODE_CODES);
        },
      ),
      runs(20),
    );
    const meta = { topic: 'fuzz', partition: 0, offset: '0', timestamp: 0 };
    const manyKeys = `{"text":"ok","attrs":{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`).join(',')}}}`;
    typedOrOk(() => decoder(Buffer.from(manyKeys), meta), 2_000, DECODE_CODES);
    typedOrOk(() => decoder(Buffer.from(`{"text":"ok","timestamp":1e400}`), meta), 100, DECODE_CODES);
    typedOrOk(() => decoder(Buffer.from(`{"text":"ok","label":"${'x'.repeat(1_000_000)}"}`), meta), 1_000, DECODE_CODES);
  });
});
