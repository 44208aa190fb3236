/**
 * The Confluent wire format's framing, on its own so that the plain Avro codec (avro.ts) can read framed
 * records too without importing the registry client:
 *
 *   byte 0      magic byte, 0
 *   bytes 1-4   schema id, big-endian unsigned int, as the registry assigned it
 *   bytes 5-    Avro binary body
 */
import { ERROR_CODES, TokrsError } from '../errors.js';
import { schemaError } from './schemas.js';

export const CONFLUENT_MAGIC = 0;
export const CONFLUENT_HEADER_SIZE = 5;

/** Prefixes an Avro body with the magic byte and schema id. */
export function frameConfluent(schemaId: number, body: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw schemaError(`schema id must be an unsigned 32-bit integer, got ${schemaId}`);
  }
  const framed = Buffer.allocUnsafe(CONFLUENT_HEADER_SIZE + body.length);
  framed.writeUInt8(CONFLUENT_MAGIC, 0);
  framed.writeUInt32BE(schemaId, 1);
  body.copy(framed, CONFLUENT_HEADER_SIZE);
  return framed;
}

/** Splits a framed value; DECODE when it is too short or its first byte is not the magic byte. */
export function unframeConfluent(value: Buffer): { schemaId: number; body: Buffer } {
  if (value.length < CONFLUENT_HEADER_SIZE) {
    throw new TokrsError(
      ERROR_CODES.DECODE,
      `Confluent-framed value must be at least ${CONFLUENT_HEADER_SIZE} bytes (magic byte + schema id), got ${value.length}`,
    );
  }
  const magic = value.readUInt8(0);
  if (magic !== CONFLUENT_MAGIC) {
    throw new TokrsError(
      ERROR_CODES.DECODE,
      `Confluent wire format starts with magic byte 0, got ${magic}; the producer did not use a schema registry`,
    );
  }
  return { schemaId: value.readUInt32BE(1), body: value.subarray(CONFLUENT_HEADER_SIZE) };
}

