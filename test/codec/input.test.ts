import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord } from '../../src/codec/avro.js';
import { decodeConfigSchema } from '../../src/codec/config.js';
import { type MessageMeta, createDecoder, getPath } from '../../src/codec/input.js';
import { type ErrorCode, ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { metricsV1, textEvent } from './fixtures.js';

const meta: MessageMeta = { topic: 'in', partition: 2, offset: '41', timestamp: '1700000000000' };
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTokrsError(e), `expected a TokrsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('config', () => {
  it('fills defaults', () => {
    assert.deepEqual(decodeConfigSchema.parse({}), {
      format: 'text',
      fields: { text: 'text', label: 'label', id: 'id', timestamp: 'timestamp', attributes: null },
      limits: { maxBytes: 1048576, maxTextLength: 100000 },
    });
  });

  it('refuses unknown formats, fields and bad limits with a CONFIG error naming the path', () => {
    throwsCode(() => createDecoder({ format: 'xml' as 'json' }), ERROR_CODES.CONFIG, /source\.format/);
    throwsCode(() => createDecoder({ limits: { maxBytes: -3 } }), ERROR_CODES.CONFIG, /source\.limits\.maxBytes/);
    throwsCode(() => createDecoder({ fields: { text: 'a..b' } }), ERROR_CODES.CONFIG, /source\.fields\.text/);
    throwsCode(() => createDecoder({ fields: { txt: 'a' } as never }), ERROR_CODES.CONFIG, /source\.fields/);
  });
});

describe('text format', () => {
  const decode = createDecoder({ format: 'text', limits: { maxBytes: 64, maxTextLength: 10 } });

  it('decodes UTF-8, with id topic-partition-offset and the Kafka timestamp', () => {
    assert.deepEqual(decode(Buffer.from('味道很好'), meta), {
      id: 'in-2-41',
      text: '味道很好',
      timestamp: 1_700_000_000_000,
      source: { topic: 'in', partition: 2, offset: '41' },
    });
  });

  it('rejects bad input with the right code', () => {
    throwsCode(() => decode(Buffer.from([0x61, 0xff, 0x62]), meta), ERROR_CODES.DECODE, /UTF-8/);
    throwsCode(() => decode(Buffer.from([0xe5, 0x91]), meta), ERROR_CODES.DECODE, /UTF-8/); // truncated sequence
    throwsCode(() => decode(Buffer.alloc(0), meta), ERROR_CODES.DECODE, /empty/);
    throwsCode(() => decode(null, meta), ERROR_CODES.DECODE, /tombstone/);
    throwsCode(() => decode(Buffer.alloc(65, 0x61), meta), ERROR_CODES.LIMIT, /maxBytes/);
    throwsCode(() => decode(Buffer.from('12345678901'), meta), ERROR_CODES.LIMIT, /maxTextLength/);
    throwsCode(() => decode(Buffer.from('ok'), { ...meta, timestamp: 'soon' }), ERROR_CODES.DECODE, /timestamp/);
  });
});

describe('json format', () => {
  const decode = createDecoder({
    format: 'json',
    fields: { text: 'review.body', label: 'meta.sentiment', id: 'uuid', timestamp: 'ts', attributes: 'attrs' },
    limits: { maxBytes: 256, maxTextLength: 20 },
  });

  it('reads the mapped fields, dotted paths included', () => {
    const value = json({
      uuid: 'u-1',
      ts: '2024-01-02T03:04:05.678Z',
      review: { body: '很快，好吃' },
      meta: { sentiment: 'positive' },
      attrs: { shop: 'A', stars: 5, fresh: true, note: null },
    });
    assert.deepEqual(decode(value, meta), {
      id: 'u-1',
      text: '很快，好吃',
      label: 'positive',
      timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      attributes: { shop: 'A', stars: '5', fresh: 'true' },
      source: { topic: 'in', partition: 2, offset: '41' },
    });
  });

  it('defaults: no label is unlabelled, no id is topic-partition-offset, numeric ids and timestamps', () => {
    assert.deepEqual(decode(json({ review: { body: 'x' } }), meta), {
      id: 'in-2-41',
      text: 'x',
      timestamp: 1_700_000_000_000,
      source: { topic: 'in', partition: 2, offset: '41' },
    });
    const r = decode(json({ review: { body: 'x' }, uuid: 7, ts: 5, meta: { sentiment: null } }), meta);
    assert.equal(r.id, '7');
    assert.equal(r.timestamp, 5);
    assert.equal(r.label, undefined);
  });

  it('the waimai lines decode with the default field names', () => {
    const plainJson = createDecoder({ format: 'json' });
    const r = plainJson(Buffer.from('{"text": "很快，好吃，味道足，量大", "label": "positive"}'), meta);
    assert.equal(r.text, '很快，好吃，味道足，量大');
    assert.equal(r.label, 'positive');
  });

  it('a null field mapping ignores the field', () => {
    const noLabel = createDecoder({ format: 'json', fields: { label: null } });
    assert.equal(noLabel(json({ text: 'a', label: 'x' }), meta).label, undefined);
  });

  const bad: [string, Buffer | null, ErrorCode, RegExp][] = [
    ['invalid JSON', Buffer.from('{"review": '), ERROR_CODES.DECODE, /not valid JSON/],
    ['bad UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), ERROR_CODES.DECODE, /UTF-8/],
    ['empty value', Buffer.alloc(0), ERROR_CODES.DECODE, /empty/],
    ['null value', null, ERROR_CODES.DECODE, /no value/],
    ['oversize value', json({ review: { body: 'x'.repeat(300) } }), ERROR_CODES.LIMIT, /maxBytes/],
    ['text over the length limit', json({ review: { body: 'x'.repeat(21) } }), ERROR_CODES.LIMIT, /maxTextLength/],
    ['a JSON array', json([1, 2]), ERROR_CODES.FIELD, /JSON object, got array/],
    ['a JSON string', json('hello'), ERROR_CODES.FIELD, /JSON object, got string/],
    ['missing text', json({ review: {} }), ERROR_CODES.FIELD, /'review\.body' is missing/],
    ['text path through a non-object', json({ review: 'flat' }), ERROR_CODES.FIELD, /missing/],
    ['null text', json({ review: { body: null } }), ERROR_CODES.FIELD, /missing/],
    ['numeric text', json({ review: { body: 12 } }), ERROR_CODES.FIELD, /must be a string, got number/],
    ['empty text', json({ review: { body: '' } }), ERROR_CODES.FIELD, /empty/],
    ['numeric label', json({ review: { body: 'a' }, meta: { sentiment: 1 } }), ERROR_CODES.FIELD, /label field 'meta\.sentiment' must be a string, got number 1/],
    ['object label', json({ review: { body: 'a' }, meta: { sentiment: {} } }), ERROR_CODES.FIELD, /got object/],
    ['empty label', json({ review: { body: 'a' }, meta: { sentiment: '' } }), ERROR_CODES.FIELD, /empty/],
    ['boolean id', json({ review: { body: 'a' }, uuid: true }), ERROR_CODES.FIELD, /id field 'uuid'/],
    ['fractional id', json({ review: { body: 'a' }, uuid: 1.5 }), ERROR_CODES.FIELD, /id field/],
    ['bad timestamp', json({ review: { body: 'a' }, ts: 'yesterday' }), ERROR_CODES.FIELD, /timestamp field 'ts'/],
    ['array timestamp', json({ review: { body: 'a' }, ts: [1] }), ERROR_CODES.FIELD, /timestamp/],
    ['attributes not an object', json({ review: { body: 'a' }, attrs: 'x' }), ERROR_CODES.FIELD, /attributes field/],
    ['nested attribute', json({ review: { body: 'a' }, attrs: { a: { b: 1 } } }), ERROR_CODES.FIELD, /attribute 'attrs\.a'/],
  ];
  for (const [name, value, code, message] of bad) {
    it(`rejects ${name} with ${code}`, () => throwsCode(() => decode(value, meta), code, message));
  }
});

describe('avro format', () => {
  const decode = createDecoder({ format: 'avro', limits: { maxBytes: 200, maxTextLength: 50 } });

  it('decodes a TextEvent written by tokrs, with or without headers', () => {
    const { value, headers } = encodeRecord('dev.tokrs.TextEvent', textEvent);
    const expected = {
      id: 'r-1',
      text: textEvent.text,
      label: 'positive',
      timestamp: textEvent.timestamp,
      attributes: { lang: 'zh', source: 'waimai' },
      source: { topic: 'in', partition: 2, offset: '41' },
    };
    assert.deepEqual(decode(value, { ...meta, headers }), expected);
    assert.equal(decode(value, meta).text, textEvent.text);
  });

  it('fills id and timestamp from the message when the event has none', () => {
    const { value } = encodeRecord('dev.tokrs.TextEvent', { text: 'hello' });
    assert.deepEqual(decode(value, meta), {
      id: 'in-2-41',
      text: 'hello',
      timestamp: 1_700_000_000_000,
      source: { topic: 'in', partition: 2, offset: '41' },
    });
  });

  it('rejects bad input with the right code', () => {
    const { value } = encodeRecord('dev.tokrs.TextEvent', textEvent);
    throwsCode(() => decode(value.subarray(0, 10), meta), ERROR_CODES.DECODE, /cannot decode/); // truncated
    throwsCode(() => decode(Buffer.from([0x02, 0x7f]), meta), ERROR_CODES.DECODE); // string longer than the value
    throwsCode(() => decode(Buffer.alloc(0), meta), ERROR_CODES.DECODE, /empty/);
    throwsCode(() => decode(null, meta), ERROR_CODES.DECODE);
    throwsCode(() => decode(Buffer.alloc(201), meta), ERROR_CODES.LIMIT, /maxBytes/);
    const long = encodeRecord('dev.tokrs.TextEvent', { text: 'x'.repeat(51) });
    throwsCode(() => decode(long.value, meta), ERROR_CODES.LIMIT, /maxTextLength/);
    const empty = encodeRecord('dev.tokrs.TextEvent', { text: '' });
    throwsCode(() => decode(empty.value, meta), ERROR_CODES.FIELD, /empty/);
    const emptyLabel = encodeRecord('dev.tokrs.TextEvent', { text: 'a', label: '' });
    throwsCode(() => decode(emptyLabel.value, meta), ERROR_CODES.FIELD, /label/);
    // A metrics record on the input topic: its headers say so.
    const metrics = encodeRecord('dev.tokrs.Metrics', metricsV1);
    throwsCode(() => decode(metrics.value.subarray(0, 150), { ...meta, headers: metrics.headers }), ERROR_CODES.SCHEMA);
  });
});

describe('getPath', () => {
  it('walks dotted paths and stops at non-objects', () => {
    const o = { a: { b: { c: 1 } }, x: [1] };
    assert.equal(getPath(o, 'a.b.c'), 1);
    assert.equal(getPath(o, 'a.z.c'), undefined);
    assert.equal(getPath(o, 'x.0'), undefined);
    assert.equal(getPath(o, 'toString'), undefined);
  });
});
