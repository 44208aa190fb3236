/**
 * Dead letters: a message the topology could not process, kept byte for byte with the reason, so it can be
 * inspected, fixed and replayed.
 */
import type { TokrsError } from '../errors.js';
import type { SourcePosition } from '../topology/record.js';
import type { DeadLetterRecord } from './records.js';
import { schemaError } from './schemas.js';

export interface DeadLetterInput {
  readonly topology: string;
  /** Where the message was read; absent when it was not read from Kafka. */
  readonly source?: SourcePosition;
  readonly key?: Buffer | null;
  /** The original message value, null for a tombstone. */
  readonly value: Buffer | null;
  readonly error: TokrsError;
  /** Name of the step that rejected it (decode, tokenize, ...). */
  readonly step?: string;
  /** Record id, when the message was decoded far enough to have one. */
  readonly recordId?: string;
  /** When it was rejected, ms since the epoch (the clock is the caller's). */
  readonly time: number;
}

/**
 * A Kafka offset (a decimal string, as KafkaJS gives it) as an Avro long. avsc longs are JS numbers, so an
 * offset beyond 2^53 is refused rather than silently rounded; no real partition gets there.
 */
export function toAvroOffset(offset: string | number): number {
  const n = typeof offset === 'number' ? offset : /^\d+$/.test(offset) ? Number(offset) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw schemaError(`Kafka offset ${String(offset)} is not a non-negative integer below 2^53`);
  }
  return n;
}

/** The dead-letter record for one rejected message; encode it with encodeRecord('dev.tokrs.DeadLetter', …). */
export function buildDeadLetter(input: DeadLetterInput): DeadLetterRecord {
  return {
    topology: input.topology,
    sourceTopic: input.source?.topic ?? null,
    sourcePartition: input.source?.partition ?? null,
    sourceOffset: input.source === undefined ? null : toAvroOffset(input.source.offset),
    key: input.key ?? null,
    value: input.value,
    errorCode: input.error.code,
    errorMessage: input.error.message,
    step: input.step ?? null,
    recordId: input.recordId ?? null,
    time: input.time,
  };
}
