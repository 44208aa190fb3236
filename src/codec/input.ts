/**
 * Input decoders: a Kafka message value → the TextRecord every later stage sees.
 *
 *   const decode = createDecoder({ format: 'json', fields: { text: 'review.body', label: 'stars' } });
 *   try { const record = decode(message.value, { topic, partition, offset: message.offset,
 *                                               timestamp: message.timestamp, headers: message.headers }); }
 *   catch (error) { if (error instanceof TokrsError) reject(message, error); else throw error; }
 *
 * A decoder throws a TokrsError for a message it cannot turn into a record, and nothing else:
 *   TOKRS_ERR_DECODE  no value, empty value, invalid UTF-8, invalid JSON, truncated or bad Avro
 *   TOKRS_ERR_FIELD   missing or empty text, a field of the wrong type (a non-string label, ...)
 *   TOKRS_ERR_LIMIT   a value over limits.maxBytes or a text over limits.maxTextLength
 *   TOKRS_ERR_SCHEMA  (avro) headers naming another schema or an unknown version
 */
import { ERROR_CODES, TokrsError, configError, describeError } from '../errors.js';
import type { SourcePosition, TextRecord } from '../topology/record.js';
import { type KafkaHeaders, decodeBody, writerFromHeaders } from './avro.js';
import { type DecodeConfig, type DecodeConfigInput, decodeConfigSchema } from './config.js';
import { SCHEMA_NAMES, type TextEventRecord } from './records.js';
import { type SchemaStore, defaultSchemas } from './schemas.js';

/** What the decoder needs to know about a message besides its value. */
export interface MessageMeta extends SourcePosition {
  /** Kafka message timestamp, ms since the epoch; KafkaJS gives it as a decimal string. */
  readonly timestamp: number | string;
  /** Message headers; the avro format reads the writer schema version from them. */
  readonly headers?: KafkaHeaders;
}

/** Decodes one message value; throws TokrsError for a bad message (see the module comment). */
export type InputDecoder = (value: Buffer | null, meta: MessageMeta) => TextRecord;

export interface DecoderOptions {
  /** Schema store for the avro format; this checkout's schemas/ by default. */
  store?: SchemaStore;
}

const decodeError = (message: string, cause?: unknown): TokrsError =>
  new TokrsError(ERROR_CODES.DECODE, message, cause === undefined ? {} : { cause });
const fieldError = (message: string): TokrsError => new TokrsError(ERROR_CODES.FIELD, message);
const limitError = (message: string): TokrsError => new TokrsError(ERROR_CODES.LIMIT, message);

/** Builds the decoder for a topology's `source` decoding settings (validated here; CONFIG error if bad). */
export function createDecoder(config: DecodeConfigInput = {}, options: DecoderOptions = {}): InputDecoder {
  const parsed = decodeConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(`source.${issue.path.join('.')}: ${issue.message}`);
  }
  const settings = parsed.data;
  switch (settings.format) {
    case 'text':
      return textDecoder(settings);
    case 'json':
      return jsonDecoder(settings);
    case 'avro':
      return avroDecoder(settings, options.store ?? defaultSchemas());
  }
}

/** The parts of a record a format found; the rest is filled in from the message. */
interface Found {
  id?: string;
  text: string;
  label?: string;
  timestamp?: number;
  attributes?: Record<string, string>;
}

function checkValue(value: Buffer | null, settings: DecodeConfig): Buffer {
  if (value === null) throw decodeError('message has no value (a tombstone); expected a text message');
  if (value.length === 0) throw decodeError('message value is empty (0 bytes)');
  if (value.length > settings.limits.maxBytes) {
    throw limitError(
      `message value is ${value.length} bytes, over limits.maxBytes = ${settings.limits.maxBytes}; ` +
        'raise source.limits.maxBytes to accept it',
    );
  }
  return value;
}

function kafkaTimestamp(meta: MessageMeta): number {
  const ms = typeof meta.timestamp === 'number' ? meta.timestamp : Number(meta.timestamp);
  if (!Number.isFinite(ms)) throw decodeError(`Kafka message timestamp ${String(meta.timestamp)} is not a number`);
  return ms;
}

function finish(found: Found, meta: MessageMeta, settings: DecodeConfig, textField: string): TextRecord {
  if (found.text.length === 0) throw fieldError(`${textField} is empty; a message needs a non-empty text`);
  if (found.text.length > settings.limits.maxTextLength) {
    throw limitError(
      `${textField} is ${found.text.length} characters, over limits.maxTextLength = ${settings.limits.maxTextLength}`,
    );
  }
  const source: SourcePosition = { topic: meta.topic, partition: meta.partition, offset: meta.offset };
  return {
    id: found.id ?? `${meta.topic}-${meta.partition}-${meta.offset}`,
    text: found.text,
    ...(found.label === undefined ? {} : { label: found.label }),
    timestamp: found.timestamp ?? kafkaTimestamp(meta),
    ...(found.attributes === undefined ? {} : { attributes: found.attributes }),
    source,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(value: Buffer): string {
  try {
    return utf8.decode(value);
  } catch (error) {
    throw decodeError(`message value is not valid UTF-8 (${value.length} bytes)`, error);
  }
}

function textDecoder(settings: DecodeConfig): InputDecoder {
  return (value, meta) => finish({ text: decodeUtf8(checkValue(value, settings)) }, meta, settings, 'text');
}

/**
 * A found value for an error message: at most 80 characters, and never a throw (JSON.stringify overflows
 * the stack on a 50,000-deep array, which test/fuzz/decoders found in a label field).
 */
function shown(v: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    text = undefined;
  }
  if (text === undefined) return typeOf(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** The value at a dotted path, or undefined when any step is missing or not an object. */
export function getPath(object: unknown, path: string): unknown {
  return pathGetter(path)(object);
}

/** `getPath` for one path, split once (a decoder reads the same fields of every message). */
export function pathGetter(path: string): (object: unknown) => unknown {
  const steps = path.split('.');
  const step = (current: unknown, name: string): unknown => {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, name)) return undefined;
    return (current as Record<string, unknown>)[name];
  };
  if (steps.length === 1) {
    const only = steps[0];
    return (object) => step(object, only);
  }
  return (object) => {
    let current = object;
    for (const name of steps) {
      current = step(current, name);
      if (current === undefined) return undefined;
    }
    return current;
  };
}

function jsonDecoder(settings: DecodeConfig): InputDecoder {
  const { fields } = settings;
  const none = (): unknown => undefined;
  const get = {
    text: pathGetter(fields.text),
    label: fields.label === null ? none : pathGetter(fields.label),
    id: fields.id === null ? none : pathGetter(fields.id),
    timestamp: fields.timestamp === null ? none : pathGetter(fields.timestamp),
    attributes: fields.attributes === null ? none : pathGetter(fields.attributes),
  };
  return (value, meta) => {
    const text = decodeUtf8(checkValue(value, settings));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw decodeError(`message value is not valid JSON: ${describeError(error)}`, error);
    }
    if (typeOf(json) !== 'object') throw fieldError(`expected a JSON object, got ${typeOf(json)}`);

    const rawText = get.text(json);
    if (rawText === undefined || rawText === null) {
      throw fieldError(`text field '${fields.text}' is missing; set source.fields.text to the field holding the text`);
    }
    if (typeof rawText !== 'string') throw fieldError(`text field '${fields.text}' must be a string, got ${typeOf(rawText)}`);

    const found: Found = { text: rawText };
    if (fields.label !== null) {
      const label = get.label(json);
      if (label !== undefined && label !== null) {
        if (typeof label !== 'string') {
          throw fieldError(`label field '${fields.label}' must be a string, got ${typeOf(label)} ${shown(label)}`);
        }
        if (label.length === 0) throw fieldError(`label field '${fields.label}' is empty; omit it or use null for no label`);
        found.label = label;
      }
    }
    if (fields.id !== null) {
      const id = get.id(json);
      if (id !== undefined && id !== null) {
        if (typeof id === 'string' && id.length > 0) found.id = id;
        else if (typeof id === 'number' && Number.isSafeInteger(id)) found.id = String(id);
        else throw fieldError(`id field '${fields.id}' must be a non-empty string or an integer, got ${typeOf(id)} ${shown(id)}`);
      }
    }
    if (fields.timestamp !== null) {
      const ts = get.timestamp(json);
      if (ts !== undefined && ts !== null) found.timestamp = parseTimestamp(ts, fields.timestamp);
    }
    if (fields.attributes !== null) {
      const attributes = get.attributes(json);
      if (attributes !== undefined && attributes !== null) found.attributes = parseAttributes(attributes, fields.attributes);
    }
    return finish(found, meta, settings, `text field '${fields.text}'`);
  };
}

/** ms since the epoch from a number, a decimal string or an ISO 8601 string. */
function parseTimestamp(value: unknown, field: string): number {
  let ms = Number.NaN;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw fieldError(
      `timestamp field '${field}' must be ms since the epoch or an ISO 8601 date, got ${typeOf(value)} ${shown(value)}`,
    );
  }
  return Math.trunc(ms);
}

function parseAttributes(value: unknown, field: string): Record<string, string> {
  if (typeOf(value) !== 'object') throw fieldError(`attributes field '${field}' must be an object, got ${typeOf(value)}`);
  const attributes: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') attributes[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') attributes[key] = String(v);
    else if (v !== null) throw fieldError(`attribute '${field}.${key}' must be a string, number or boolean, got ${typeOf(v)}`);
  }
  return attributes;
}

function avroDecoder(settings: DecodeConfig, store: SchemaStore): InputDecoder {
  const reader = store.latest(SCHEMA_NAMES.textEvent);
  return (value, meta) => {
    const body = checkValue(value, settings);
    // Plain Avro binary (tokrs feed writes it with identity headers); without headers the writer is
    // assumed to be the latest TextEvent version.
    const writer = writerFromHeaders(meta.headers, store, SCHEMA_NAMES.textEvent) ?? reader;
    const event = decodeBody(reader, writer, body) as TextEventRecord;
    const found: Found = { text: event.text };
    if (event.id !== null && event.id !== undefined && event.id.length > 0) found.id = event.id;
    if (event.label !== null && event.label !== undefined) {
      if (event.label.length === 0) throw fieldError('label is empty; use null for no label');
      found.label = event.label;
    }
    if (event.timestamp !== null && event.timestamp !== undefined) found.timestamp = event.timestamp;
    if (event.attributes && Object.keys(event.attributes).length > 0) found.attributes = event.attributes;
    return finish(found, meta, settings, 'text');
  };
}
