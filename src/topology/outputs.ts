/**
 * How a topology's outputs become Kafka records, by `outputs.format`:
 *
 * - `avro`: plain Avro binary; the schema is named in the tokrs-schema headers (codec/avro.ts).
 * - `confluent`: the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary), with
 *   each output's schema registered in `outputs.schemaRegistry` under the TopicNameStrategy subject
 *   "<topic>-value", so any Confluent deserializer (or a reader holding only the .avsc file) reads it. The
 *   tokrs-schema headers are kept, plus `tokrs-framing: confluent`, so `tokrs tail` and the dashboard still
 *   need no registry.
 *
 * The schemas are registered once, when the encoder is created (before the first message is read): a
 * registry that refuses a schema (incompatible with the subject's earlier versions) or cannot be reached
 * stops the run at start with its message, never midway.
 */
import { HEADER_FRAMING, encodeBody, encodeRecord, schemaHeaders } from '../codec/avro.js';
import { createHttpSchemaRegistryClient, frameConfluent, topicNameStrategy, type FetchLike, type SchemaRegistryClient } from '../codec/confluent.js';
import { SCHEMA_NAMES, type SchemaName } from '../codec/records.js';
import { defaultSchemas, type SchemaEntry } from '../codec/schemas.js';
import { configError } from '../errors.js';
import { withRetry, type RetryOptions } from '../kafka/retry.js';
import type { OutputRecord } from '../kafka/sink.js';
import type { TopologyOutput } from './pipeline.js';
import type { Topology } from './spec.js';

export interface OutputEncoder {
  /** The record of one output, or undefined when the topology does not publish that kind of output. */
  encode(output: TopologyOutput): OutputRecord | undefined;
}

export interface OutputEncoderOptions {
  /** Put before every output topic (tokrs replay --output-prefix); subjects follow the prefixed topics. */
  topicPrefix?: string;
  /** The registry to use; default: the REST API at outputs.schemaRegistry.url, with the global fetch. */
  registry?: SchemaRegistryClient;
  env?: NodeJS.ProcessEnv;
  /** How a failed registration is retried (a registry restarting answers 5xx or refuses connections). */
  retry?: RetryOptions;
}

/** Header with the registry id of the value's schema (confluent format): handy for debugging, not needed to read. */
export const HEADER_SCHEMA_ID = 'tokrs-schema-id';

const SCHEMA_OF: Record<TopologyOutput['kind'], SchemaName> = {
  metrics: SCHEMA_NAMES.metrics,
  prediction: SCHEMA_NAMES.prediction,
  snapshot: SCHEMA_NAMES.modelSnapshot,
  deadLetter: SCHEMA_NAMES.deadLetter,
};

function topicOf(t: Topology, kind: TopologyOutput['kind']): string | undefined {
  const o = t.outputs;
  switch (kind) {
    case 'metrics':
      return o.metrics?.topic;
    case 'prediction':
      return o.predictions?.topic;
    case 'snapshot':
      return o.snapshots?.topic;
    case 'deadLetter':
      return o.deadLetters?.topic;
  }
}

/**
 * The plain Avro record (outputs.format: avro) of one output, or undefined when the topology does not
 * publish that kind. A confluent topology needs `createOutputEncoder`, which has the registry's ids.
 */
export function encodeOutput(t: Topology, output: TopologyOutput): OutputRecord | undefined {
  if (t.outputs.format !== 'avro') throw configError(`topology ${t.name} writes outputs.format ${t.outputs.format}: encode with createOutputEncoder`);
  const o = t.outputs;
  const key = t.name;
  switch (output.kind) {
    case 'metrics':
      return o.metrics ? { topic: o.metrics.topic, key, ...encodeRecord(SCHEMA_NAMES.metrics, output.record) } : undefined;
    case 'prediction':
      return o.predictions ? { topic: o.predictions.topic, key, ...encodeRecord(SCHEMA_NAMES.prediction, output.record) } : undefined;
    case 'snapshot':
      return o.snapshots ? { topic: o.snapshots.topic, key, ...encodeRecord(SCHEMA_NAMES.modelSnapshot, output.record) } : undefined;
    case 'deadLetter':
      return o.deadLetters ? { topic: o.deadLetters.topic, key, ...encodeRecord(SCHEMA_NAMES.deadLetter, output.record) } : undefined;
  }
}

/** The HTTP registry client of `outputs.schemaRegistry`, with its timeout and basic auth. */
export function registryClient(t: Topology, env: NodeJS.ProcessEnv = process.env): SchemaRegistryClient {
  const r = t.outputs.schemaRegistry;
  if (r === null) throw configError(`outputs.schemaRegistry is not set (topology ${t.name})`);
  const fetchWithTimeout: FetchLike = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(r.timeoutMs) });
  let auth: { username: string; password: string } | undefined;
  if (r.auth !== undefined) {
    const password = env[r.auth.passwordEnv];
    if (password === undefined || password === '') {
      throw configError(`outputs.schemaRegistry.auth.passwordEnv: environment variable ${r.auth.passwordEnv} is not set`);
    }
    auth = { username: r.auth.username, password };
  }
  return createHttpSchemaRegistryClient({ url: r.url, fetch: fetchWithTimeout, ...(auth === undefined ? {} : { auth }) });
}

/**
 * The encoder of a topology's outputs. For `confluent`, registers the latest version of each output's
 * schema under "<prefix><topic>-value" first.
 *
 * ```ts
 * const encoder = await createOutputEncoder(t);
 * pipeline$.subscribe((output) => { const r = encoder.encode(output); if (r) sink.send(r); });
 * ```
 */
export async function createOutputEncoder(t: Topology, options: OutputEncoderOptions = {}): Promise<OutputEncoder> {
  const prefix = options.topicPrefix ?? '';
  if (t.outputs.format === 'avro') {
    return {
      encode(output) {
        const record = encodeOutput(t, output);
        // Object.assign, not a leading spread: see withTokenized in record.ts (this runs once per output).
        return record === undefined || prefix === '' ? record : Object.assign({}, record, { topic: `${prefix}${record.topic}` });
      },
    };
  }
  const registry = options.registry ?? registryClient(t, options.env);
  const store = defaultSchemas();
  const framed = new Map<TopologyOutput['kind'], { topic: string; entry: SchemaEntry; id: number; headers: Record<string, string> }>();
  for (const kind of Object.keys(SCHEMA_OF) as TopologyOutput['kind'][]) {
    const topic = topicOf(t, kind);
    if (topic === undefined) continue;
    const entry = store.get(SCHEMA_OF[kind]);
    const subject = topicNameStrategy(`${prefix}${topic}`);
    const id = await withRetry(() => registry.register(subject, entry.text), options.retry ?? { retries: 5, maxMs: 2_000 });
    framed.set(kind, {
      topic: `${prefix}${topic}`,
      entry,
      id,
      headers: { ...schemaHeaders(entry), [HEADER_FRAMING]: 'confluent', [HEADER_SCHEMA_ID]: String(id) },
    });
  }
  return {
    encode(output) {
      const f = framed.get(output.kind);
      if (f === undefined) return undefined;
      return { topic: f.topic, key: t.name, value: frameConfluent(f.id, encodeBody(f.entry, output.record)), headers: { ...f.headers } };
    },
  };
}
