/**
 * The Confluent wire format, used when a topology configures a schema registry URL:
 *
 *   byte 0      magic byte, 0
 *   bytes 1-4   schema id, big-endian unsigned int, as the registry assigned it
 *   bytes 5-    Avro binary body
 *
 * The registry client is an interface so the HTTP call (and its fetch) is injected; tests use an in-memory
 * implementation of the same interface.
 */
import avro from 'avsc';
import type { Type } from 'avsc';
import { ERROR_CODES, TokrsError, describeError } from '../errors.js';
import { decodeBody, encodeBody } from './avro.js';
import type { RecordTypes, SchemaName } from './records.js';
import { type SchemaEntry, type SchemaStore, defaultSchemas, schemaError } from './schemas.js';

export { CONFLUENT_HEADER_SIZE, CONFLUENT_MAGIC, frameConfluent, unframeConfluent } from './framing.js';
import { frameConfluent, unframeConfluent } from './framing.js';

/** What tokrs needs from a schema registry. */
export interface SchemaRegistryClient {
  /** The writer schema (Avro JSON text) registered under `id`. */
  getSchemaById(id: number): Promise<string>;
  /** Registers `schema` (Avro JSON text) under `subject`, or finds it; returns its id. */
  register(subject: string, schema: string): Promise<number>;
}

/** The part of `fetch` the HTTP client uses, so any implementation (undici, a test double) can be injected. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface HttpSchemaRegistryOptions {
  /** Base URL, e.g. http://localhost:8081. */
  url: string;
  fetch: FetchLike;
  /** Basic auth, as Confluent Cloud needs. */
  auth?: { username: string; password: string };
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * A client of the Confluent Schema Registry REST API (GET /schemas/ids/{id},
 * POST /subjects/{subject}/versions). Failures are KAFKA errors, retriable for 5xx and network errors.
 */
export function createHttpSchemaRegistryClient(options: HttpSchemaRegistryOptions): SchemaRegistryClient {
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { Accept: CONTENT_TYPE, 'Content-Type': CONTENT_TYPE };
  if (options.auth) {
    headers.Authorization = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
  }
  async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const url = `${base}${path}`;
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await options.fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new TokrsError(ERROR_CODES.KAFKA, `schema registry ${method} ${url} failed: ${describeError(error)}`, {
        retriable: true,
        cause: error,
      });
    }
    const text = await response.text();
    if (!response.ok) {
      throw new TokrsError(ERROR_CODES.KAFKA, `schema registry ${method} ${url}: HTTP ${response.status} ${text}`, {
        retriable: response.status >= 500,
      });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
      return parsed as Record<string, unknown>;
    } catch (error) {
      throw new TokrsError(ERROR_CODES.KAFKA, `schema registry ${method} ${url}: unexpected reply ${text}`, {
        cause: error,
      });
    }
  }
  return {
    async getSchemaById(id) {
      const reply = await call('GET', `/schemas/ids/${id}`);
      if (typeof reply.schema !== 'string') throw schemaError(`schema registry: no schema in reply for id ${id}`);
      return reply.schema;
    },
    async register(subject, schema) {
      const reply = await call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });
      if (typeof reply.id !== 'number') throw schemaError(`schema registry: no id in reply for subject ${subject}`);
      return reply.id;
    },
  };
}

/** Confluent's default TopicNameStrategy: the value schema of topic T is registered under "T-value". */
export const topicNameStrategy = (topic: string): string => `${topic}-value`;

export interface ConfluentCodecOptions {
  store?: SchemaStore;
  subjectFor?: (topic: string, schema: SchemaEntry) => string;
}

/**
 * Encodes tokrs records in the Confluent wire format and decodes any framed record, fetching writer
 * schemas by id (cached; ids are immutable) and resolving them to the local reader schema.
 */
export class ConfluentCodec {
  private readonly store: SchemaStore;
  private readonly subjectFor: (topic: string, schema: SchemaEntry) => string;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly writers = new Map<number, Promise<Type>>();

  constructor(
    private readonly client: SchemaRegistryClient,
    options: ConfluentCodecOptions = {},
  ) {
    this.store = options.store ?? defaultSchemas();
    this.subjectFor = options.subjectFor ?? ((topic) => topicNameStrategy(topic));
  }

  /** The registry id of one local schema version under the subject of `topic`, registering it once. */
  schemaId(topic: string, entry: SchemaEntry): Promise<number> {
    const subject = this.subjectFor(topic, entry);
    const key = `${subject}\0${entry.fingerprint}`;
    let id = this.ids.get(key);
    if (!id) {
      id = this.client.register(subject, entry.text);
      // A failed registration is not cached, so the next record retries it.
      id.catch(() => this.ids.delete(key));
      this.ids.set(key, id);
    }
    return id;
  }

  async encode<N extends SchemaName>(
    name: N,
    record: RecordTypes[N],
    topic: string,
    version?: number,
  ): Promise<Buffer> {
    const entry = this.store.get(name, version);
    const body = encodeBody(entry, record);
    return frameConfluent(await this.schemaId(topic, entry), body);
  }

  private writerType(id: number): Promise<Type> {
    let writer = this.writers.get(id);
    if (!writer) {
      writer = this.client.getSchemaById(id).then((text) => {
        try {
          return avro.Type.forSchema(JSON.parse(text) as avro.schema.AvroSchema, { registry: {} });
        } catch (error) {
          throw schemaError(`schema id ${id} from the registry is not a valid Avro schema: ${describeError(error)}`, error);
        }
      });
      writer.catch(() => this.writers.delete(id));
      this.writers.set(id, writer);
    }
    return writer;
  }

  /**
   * Decodes a framed value. With `name`, the record is resolved to that local schema (latest version, or
   * `version`); without, to the local schema of the writer's name when there is one, else read as written.
   */
  async decode(value: Buffer, name?: SchemaName, version?: number): Promise<{ schemaId: number; name: string; record: unknown }> {
    const { schemaId, body } = unframeConfluent(value);
    const writer = await this.writerType(schemaId);
    const readerName = name ?? writer.name;
    let reader: SchemaEntry | undefined;
    if (readerName !== undefined) {
      try {
        reader = this.store.get(readerName, version);
      } catch (error) {
        if (name !== undefined) throw error;
      }
    }
    if (!reader) {
      try {
        return { schemaId, name: writer.name ?? '(anonymous)', record: writer.fromBuffer(body) };
      } catch (error) {
        throw new TokrsError(ERROR_CODES.DECODE, `cannot decode schema id ${schemaId}: ${describeError(error)}`, {
          cause: error,
        });
      }
    }
    // Same canonical form: read directly, no resolver needed.
    const exact = writer.fingerprint('sha256').toString('hex') === reader.fingerprint;
    return { schemaId, name: reader.name, record: decodeBody(reader, exact ? reader : writer, body) };
  }
}
