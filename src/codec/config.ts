/**
 * The decoding part of a topology's `source` section. The topology schema spreads `decodeConfigShape` into
 * its `source` object next to brokers, topics and group:
 *
 *   source:
 *     format: json                # text | json | avro
 *     fields: { text: review.body, label: sentiment, id: uuid, timestamp: meta.ts }
 *     limits: { maxBytes: 1048576, maxTextLength: 100000 }
 */
import { z } from 'zod';

/** A field path in a JSON message: names separated by dots, e.g. `review.body`. */
const fieldPath = z
  .string()
  .regex(/^[^.]+(\.[^.]+)*$/, 'a field name, or names separated by dots (review.body)');

/** A field path, or null to ignore that field even when messages have it. */
const optionalPath = fieldPath.nullable();

export const fieldsSchema = z
  .object({
    /** Field holding the text (required in every message). */
    text: fieldPath.default('text'),
    /** Field holding the label; absent or null in a message means unlabelled. */
    label: optionalPath.default('label'),
    /** Field holding the id; when absent the id is topic-partition-offset. */
    id: optionalPath.default('id'),
    /** Field holding the event time (ms since epoch, or an ISO 8601 string); else the Kafka timestamp. */
    timestamp: optionalPath.default('timestamp'),
    /** Field holding an object of string attributes; none by default. */
    attributes: optionalPath.default(null),
  })
  .strict();

export const limitsSchema = z
  .object({
    /** Largest message value accepted, in bytes; larger ones are dead letters (TOKRS_ERR_LIMIT). */
    maxBytes: z.number().int().positive().default(1024 * 1024),
    /** Longest text accepted, in UTF-16 code units; longer ones are dead letters (TOKRS_ERR_LIMIT). */
    maxTextLength: z.number().int().positive().default(100_000),
  })
  .strict();

export const decodeConfigShape = {
  /** text: the value is the UTF-8 text; json: an object with `fields`; avro: a dev.tokrs.TextEvent. */
  format: z.enum(['text', 'json', 'avro']).default('text'),
  /** Where text, label, id, timestamp and attributes are in a JSON message (json format only). */
  fields: fieldsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
};

export const decodeConfigSchema = z.object(decodeConfigShape).strict();

/** The decoding settings after defaults. */
export type DecodeConfig = z.output<typeof decodeConfigSchema>;
/** The decoding settings as written in a topology file. */
export type DecodeConfigInput = z.input<typeof decodeConfigSchema>;
export type InputFormat = DecodeConfig['format'];
