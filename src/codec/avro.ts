/**
 * Encoding tokrs records as plain Avro binary, with the schema's identity in Kafka headers, and decoding
 * them back, resolving an older or newer writer schema to the reader's with avsc's `createResolver`.
 *
 * Headers (all strings):
 *   tokrs-schema              full Avro name, e.g. dev.tokrs.Metrics
 *   tokrs-schema-version      the version N of schemas/<stem>.vN.avsc
 *   tokrs-schema-fingerprint  hex SHA-256 of the schema's Parsing Canonical Form
 *                              (avsc: `Type.forSchema(json).fingerprint('sha256').toString('hex')`)
 * A consumer holding only the .avsc files picks the file by name and version, and can check the fingerprint.
 */
import avro from 'avsc';
import type { Type } from 'avsc';
import { ERROR_CODES, TokrsError, describeError } from '../errors.js';
import { avroBoundsProblem } from './avro-bounds.js';
import { unframeConfluent } from './framing.js';
import type { RecordTypes, SchemaName } from './records.js';
import { type SchemaEntry, type SchemaStore, defaultSchemas, schemaError } from './schemas.js';

export const HEADER_SCHEMA = 'tokrs-schema';
export const HEADER_VERSION = 'tokrs-schema-version';
export const HEADER_FINGERPRINT = 'tokrs-schema-fingerprint';
/**
 * `confluent` when the value is in the Confluent wire format (outputs.format: confluent): magic byte and
 * schema id before the Avro body. The schema headers above are still there, so tokrs's own readers (tail,
 * the dashboard) need no registry.
 */
export const HEADER_FRAMING = 'tokrs-framing';

/** Kafka headers as KafkaJS gives them on a consumed message. */
export type KafkaHeaders = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

/** A Kafka message value with the headers that identify its schema. */
export interface EncodedRecord {
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export interface EncodeOptions {
  /** Schema version to write; the latest when omitted. */
  version?: number;
  store?: SchemaStore;
}

export interface DecodeOptions {
  /** Reader schema version; the latest when omitted. */
  version?: number;
  store?: SchemaStore;
}

/** The headers that identify a schema version. */
export function schemaHeaders(entry: SchemaEntry): Record<string, string> {
  return {
    [HEADER_SCHEMA]: entry.name,
    [HEADER_VERSION]: String(entry.version),
    [HEADER_FINGERPRINT]: entry.fingerprint,
  };
}

/** A header's value as a string (the first one when repeated), or undefined. */
export function headerString(headers: KafkaHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** Lists what is wrong with `value` for `type`, by path, e.g. "counts.seen: expected long, got -0.5". */
export function describeInvalid(type: Type, value: unknown): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], found: unknown, expected: Type) => {
      const shown = Buffer.isBuffer(found) ? `<${found.length} bytes>` : JSON.stringify(found) ?? String(found);
      problems.push(`${path.join('.') || '(root)'}: expected ${expected.typeName}, got ${shown}`);
    },
  });
  return problems.slice(0, 5).join('; ') || 'invalid value';
}

/** Avro binary of `record` for one schema version, with no header or framing. */
export function encodeBody(entry: SchemaEntry, record: unknown): Buffer {
  try {
    return entry.type.toBuffer(record);
  } catch (error) {
    throw schemaError(
      `record does not match ${entry.name} v${entry.version} (${entry.file}): ${describeInvalid(entry.type, record)}`,
      error,
    );
  }
}

/**
 * Encodes a tokrs record with its identity headers.
 *
 *   const { value, headers } = encodeRecord('dev.tokrs.Prediction', prediction);
 *   await producer.send({ topic, messages: [{ key: topology, value, headers }] });
 */
export function encodeRecord<N extends SchemaName>(
  name: N,
  record: RecordTypes[N],
  options: EncodeOptions = {},
): EncodedRecord {
  const entry = (options.store ?? defaultSchemas()).get(name, options.version);
  return { value: encodeBody(entry, record), headers: schemaHeaders(entry) };
}

const resolvers = new WeakMap<Type, WeakMap<Type, ReturnType<Type['createResolver']>>>();

/** avsc resolver from `writer` to `reader`, cached (building one compiles code). */
export function resolverFor(reader: Type, writer: Type): ReturnType<Type['createResolver']> {
  let byWriter = resolvers.get(reader);
  if (!byWriter) {
    byWriter = new WeakMap();
    resolvers.set(reader, byWriter);
  }
  let resolver = byWriter.get(writer);
  if (!resolver) {
    try {
      resolver = reader.createResolver(writer);
    } catch (error) {
      throw schemaError(`cannot read ${writer.name ?? 'records'} written with this schema: ${describeError(error)}`, error);
    }
    byWriter.set(writer, resolver);
  }
  return resolver;
}

/** Decodes an Avro body written with `writer` into the shape of `reader`. Throws DECODE for bad bytes. */
export function decodeBody(reader: SchemaEntry, writer: SchemaEntry | Type, body: Buffer): unknown {
  const writerType = writer instanceof avro.Type ? writer : writer.type;
  const resolver = writerType === reader.type ? undefined : resolverFor(reader.type, writerType);
  const problem = avroBoundsProblem(writerType, body);
  if (problem !== undefined) {
    throw new TokrsError(ERROR_CODES.DECODE, `cannot decode ${body.length} bytes as ${reader.name} v${reader.version}: ${problem}`);
  }
  try {
    return reader.type.fromBuffer(body, resolver);
  } catch (error) {
    throw new TokrsError(
      ERROR_CODES.DECODE,
      `cannot decode ${body.length} bytes as ${reader.name} v${reader.version}: ${describeError(error)}`,
      { cause: error },
    );
  }
}

/**
 * The writer schema named by a message's headers: by fingerprint when it is one of ours, else by version.
 * Undefined when the message carries no tokrs headers. Throws SCHEMA for headers naming another schema
 * than `expected` or an unknown version.
 */
export function writerFromHeaders(
  headers: KafkaHeaders | undefined,
  store: SchemaStore,
  expected?: string,
): SchemaEntry | undefined {
  const name = headerString(headers, HEADER_SCHEMA);
  const fingerprint = headerString(headers, HEADER_FINGERPRINT);
  const version = headerString(headers, HEADER_VERSION);
  if (name === undefined && fingerprint === undefined) return undefined;
  if (expected !== undefined && name !== undefined && name !== store.get(expected).name) {
    throw schemaError(`message is a ${name} (header ${HEADER_SCHEMA}), expected ${store.get(expected).name}`);
  }
  if (fingerprint !== undefined) {
    const entry = store.byFingerprintHex(fingerprint);
    if (entry) return entry;
  }
  if (name === undefined || version === undefined || !/^[1-9][0-9]*$/.test(version)) {
    throw schemaError(
      `unknown writer schema: ${HEADER_SCHEMA}=${name ?? '(none)'} ${HEADER_VERSION}=${version ?? '(none)'} ` +
        `${HEADER_FINGERPRINT}=${fingerprint ?? '(none)'}; update schemas/ to a version that has it`,
    );
  }
  const entry = store.get(name, Number(version));
  if (fingerprint !== undefined && fingerprint.toLowerCase() !== entry.fingerprint) {
    throw schemaError(
      `${name} v${version}: fingerprint ${fingerprint} in headers differs from ${entry.fingerprint} of ${entry.file}`,
    );
  }
  return entry;
}

/**
 * Decodes a tokrs record of a known schema. The writer version comes from the headers (when there are none,
 * the reader's own version is assumed) and is resolved to the reader version (latest by default).
 */
export function decodeRecord<N extends SchemaName>(
  name: N,
  value: Buffer,
  headers?: KafkaHeaders,
  options: DecodeOptions = {},
): RecordTypes[N] {
  const store = options.store ?? defaultSchemas();
  const reader = store.get(name, options.version);
  const writer = writerFromHeaders(headers, store, name) ?? reader;
  return decodeBody(reader, writer, avroBody(value, headers)) as RecordTypes[N];
}

/** The Avro body of a value: past the Confluent framing when the headers say it has one. */
export function avroBody(value: Buffer, headers: KafkaHeaders | undefined): Buffer {
  return headerString(headers, HEADER_FRAMING) === 'confluent' ? unframeConfluent(value).body : value;
}

/** A record of any tokrs schema, identified by its headers (for `tokrs tail`). */
export interface DecodedAny {
  readonly schema: SchemaEntry;
  readonly record: unknown;
}

/** Decodes a record of whichever tokrs schema its headers name, with that exact version. */
export function decodeAny(value: Buffer, headers: KafkaHeaders | undefined, store = defaultSchemas()): DecodedAny {
  const writer = writerFromHeaders(headers, store);
  if (!writer) throw schemaError(`message has no ${HEADER_SCHEMA} header; cannot tell which schema wrote it`);
  return { schema: writer, record: decodeBody(writer, writer, avroBody(value, headers)) };
}
