/** Avro records, wire formats and input decoders: see avro.ts, confluent.ts, input.ts. */
export * from './records.js';
export * from './schemas.js';
export * from './avro.js';
export * from './confluent.js';
export * from './config.js';
export * from './input.js';
export * from './dead-letter.js';
export * from './mapping.js';
