/**
 * The topology file: one zod schema composed from each stage's own config schema, so a stage's options are
 * defined (and documented) once, next to the code that uses them.
 */
import { BROKER_ADDRESS } from '../kafka/client.js';
import { z } from 'zod';
import { decodeConfigShape } from '../codec/config.js';
import { evaluateConfigSchema } from '../evaluate/config.js';
import { kafkaSecuritySchema } from '../kafka/security.js';
import { featuresConfigSchema } from '../features/config.js';
import { modelConfigSchema, TFJS_MAX_DIM, trainConfigSchema } from '../learn/config.js';
import { topologySampleSchema } from '../sample/config.js';
import { tokenizeConfigSchema } from '../tokenize/config.js';

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name (letters, digits, ".", "_", "-")');

export const sourceSchema = z
  .object({
    /** Broker addresses; when absent, KAFKA_BROKERS or the CLI's --brokers. */
    brokers: z.array(z.string().regex(BROKER_ADDRESS, 'host:port (a host name or IPv4 address, a port from 1 to 65535)')).min(1).optional(),
    topics: z.array(topicName).min(1),
    /** Consumer group; every `tokrs run` process of this topology joins it. */
    group: z.string().min(1).optional(),
    /** Where a group with no committed offsets starts. */
    start: z.enum(['earliest', 'latest']).default('earliest'),
    /** Most messages read from Kafka and not yet fully processed (backpressure bound). */
    maxInFlight: z.number().int().positive().default(2000),
    /** Most bytes (keys + values) read and not yet processed; pauses fetching like maxInFlight (64 MiB). */
    maxInFlightBytes: z.number().int().positive().default(64 * 1024 * 1024),
    ...decodeConfigShape,
    /** SASL and TLS; secrets only by environment variable or file name (see src/kafka/security.ts). */
    security: kafkaSecuritySchema.optional(),
  })
  .strict();

const outputTopic = z.object({ topic: topicName }).strict();


/** The Confluent Schema Registry that `outputs.format: confluent` registers the output schemas with. */
export const schemaRegistrySchema = z
  .object({
    /** Base URL of the registry's REST API, e.g. http://localhost:8081. */
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
    /** How the subject of a topic's value schema is named; only Confluent's default TopicNameStrategy. */
    subjectStrategy: z.enum(['topic-name']).default('topic-name'),
    /** HTTP basic auth (Confluent Cloud: API key and secret); the password only from an environment variable. */
    auth: z
      .object({
        username: z.string().min(1),
        passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
      })
      .strict()
      .optional(),
    /** Per-request timeout of registry calls, ms. */
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

export const outputsSchema = z
  .object({
    metrics: outputTopic.nullable().default(null),
    snapshots: z
      .object({
        topic: topicName,
        /** Publish a snapshot every this many labelled messages learned (0: only at the end). */
        everyMessages: z.number().int().min(0).default(5000),
      })
      .strict()
      .nullable()
      .default(null),
    predictions: outputTopic.nullable().default(null),
    deadLetters: outputTopic.nullable().default(null),
    /**
     * avro: plain Avro binary, the schema named in Kafka headers (tokrs-schema...). confluent: the Confluent
     * wire format (magic byte 0, 4-byte schema id, Avro binary), schemas registered in `schemaRegistry`
     * under the TopicNameStrategy subject "<topic>-value".
     */
    format: z.enum(['avro', 'confluent']).default('avro'),
    schemaRegistry: schemaRegistrySchema.nullable().default(null),
    compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
    /** Partitions for output topics that tokrs creates. */
    partitions: z.number().int().positive().default(1),
  })
  .strict();

export const checkpointSchema = z
  .object({
    /** Compacted topic holding the latest state of each process (key: topology/instance). */
    topic: topicName,
    /** Checkpoint after this many processed messages… */
    everyMessages: z.number().int().positive().default(5000),
    /** …or this many ms, whichever comes first. */
    everyMs: z.number().int().positive().default(10_000),
  })
  .strict();

/**
 * Model averaging across the processes of a topology through its snapshots topic (see
 * topology/model-averaging.ts for the semantics).
 */
const averageSchema = z
  .object({
    /** How often a process averages its model with the other processes' latest snapshots. */
    everyMs: z.number().int().positive().default(30_000),
    /** Snapshots older than this are left out: their process has stopped or fallen behind. */
    maxAgeMs: z.number().int().positive().default(300_000),
  })
  .strict();

export const topologySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a name of letters, digits, ".", "_", "-"'),
    description: z.string().optional(),
    /** Seeds every PRNG of the topology (sampler, replay draws, model init), so runs are reproducible. */
    seed: z.number().int().default(1),
    source: sourceSchema,
    tokenize: tokenizeConfigSchema.prefault({}),
    /** Tokenizer worker threads; 0 tokenizes on the main thread. */
    workers: z.number().int().min(0).max(64).default(0),
    features: featuresConfigSchema.prefault({}),
    sample: topologySampleSchema.prefault({}),
    model: modelConfigSchema.prefault({}),
    train: trainConfigSchema.prefault({}),
    evaluate: evaluateConfigSchema.prefault({}),
    outputs: outputsSchema.prefault({}),
    /**
     * at-least-once: outputs are flushed before offsets are committed; after a crash some outputs may be
     * published twice (metrics records carry their source offsets, so readers can drop duplicates).
     * exactly-once: outputs, the checkpoint and the consumer offsets are committed in one Kafka transaction.
     */
    guarantee: z.enum(['at-least-once', 'exactly-once']).default('at-least-once'),
    checkpoint: checkpointSchema.nullable().default(null),
    /** Model averaging across processes; null: each process keeps its own model. */
    average: averageSchema.nullable().default(null),
  })
  .strict()
  .refine((t) => t.guarantee === 'at-least-once' || t.checkpoint !== null, {
    message: 'is exactly-once, which needs a checkpoint section: { topic: ... } (the state is committed with the outputs), got no checkpoint',
    path: ['guarantee'],
  })
  .superRefine((t, ctx) => {
    const o = t.outputs;
    // Each output topic holds one kind of record, which its readers (tail, the dashboard, averaging) expect;
    // and an output written into a source topic is read back as input (a dead letter of an undecodable
    // message is itself undecodable: the run would feed on its own dead letters forever).
    const written: [string[], string | undefined][] = [
      [['outputs', 'metrics', 'topic'], o.metrics?.topic],
      [['outputs', 'snapshots', 'topic'], o.snapshots?.topic],
      [['outputs', 'predictions', 'topic'], o.predictions?.topic],
      [['outputs', 'deadLetters', 'topic'], o.deadLetters?.topic],
      [['checkpoint', 'topic'], t.checkpoint?.topic],
    ];
    const firstWriter = new Map<string, string>();
    for (const [path, topic] of written) {
      if (topic === undefined) continue;
      if (t.source.topics.includes(topic)) {
        ctx.addIssue({ code: 'custom', path, input: topic, message: `must not be a source topic, got ${JSON.stringify(topic)}, which source.topics reads: the run would read its own outputs back as input` });
      }
      const other = firstWriter.get(topic);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path, input: topic, message: `must differ from ${other}, got ${JSON.stringify(topic)} for both: each output topic holds one kind of record` });
      } else firstWriter.set(topic, path.join('.'));
    }
    if (t.model.type === 'tfjs' && 2 ** t.features.bits > TFJS_MAX_DIM) {
      ctx.addIssue({
        code: 'custom',
        // model.type is in the file; features.bits may be a default that is not.
        path: ['model', 'type'],
        input: t.model.type,
        message: `is tfjs, which needs features.bits <= ${Math.log2(TFJS_MAX_DIM)} (a dense first layer of 2^bits inputs), got features.bits ${t.features.bits}`,
      });
    }
    if (o.format === 'confluent' && o.schemaRegistry === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['outputs', 'format'],
        message: 'is confluent, which needs outputs.schemaRegistry: { url: http://host:8081 } (the registry the output schemas are registered with), got no outputs.schemaRegistry',
      });
    }
    if (t.average !== null && o.snapshots === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['average'],
        message: 'averages models through the snapshots topic, which needs outputs.snapshots: { topic: ..., everyMessages: ... }, got no outputs.snapshots',
      });
    }
    if (t.average !== null && t.model.type !== 'softmax-sgd') {
      ctx.addIssue({
        code: 'custom',
        path: ['average'],
        message: `averages softmax-sgd models, got model.type ${t.model.type} (remove average, or use model.type: softmax-sgd)`,
      });
    }
    if (o.format === 'avro' && o.schemaRegistry !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['outputs', 'schemaRegistry'],
        message: 'is only used with outputs.format: confluent, got outputs.format avro (set format: confluent, or remove schemaRegistry)',
      });
    }
  });

export type Topology = z.output<typeof topologySchema>;
export type TopologyInput = z.input<typeof topologySchema>;
