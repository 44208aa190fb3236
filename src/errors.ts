/**
 * Every tokrs error, with a stable code users can search for.
 *
 * Classified by what the caller can do (as KafkaJS does): a `retriable` error is retried by the shared
 * retry helper; any other goes to the dead-letter topic (for one message) or stops the run (for the whole
 * run) with its message, which says what was wrong, where, and what to do.
 */
export const ERROR_CODES = {
  /** A topology file failed validation: file, path, expected and found are in the message. */
  TOPOLOGY: 'TOKRS_ERR_TOPOLOGY',
  /** A configuration value or function argument is out of range. */
  CONFIG: 'TOKRS_ERR_CONFIG',
  /** A message could not be decoded (bad UTF-8, JSON, Avro, wire format). */
  DECODE: 'TOKRS_ERR_DECODE',
  /** A decoded message lacks a field the topology needs, or has it with the wrong type. */
  FIELD: 'TOKRS_ERR_FIELD',
  /** A message exceeds a configured limit (size, text length, tokens, labels). */
  LIMIT: 'TOKRS_ERR_LIMIT',
  /** A tokenizer failed on a text. */
  TOKENIZE: 'TOKRS_ERR_TOKENIZE',
  /** A feature vector does not fit the model (hash size, NaN values). */
  FEATURES: 'TOKRS_ERR_FEATURES',
  /** A snapshot or checkpoint is of another kind, version or hash size. */
  SNAPSHOT: 'TOKRS_ERR_SNAPSHOT',
  /** An Avro schema is missing or a record does not match it. */
  SCHEMA: 'TOKRS_ERR_SCHEMA',
  /** A sampler was given an invalid capacity, weight or snapshot. */
  SAMPLE: 'TOKRS_ERR_SAMPLE',
  /** A learner was given an invalid label, weight or option. */
  LEARN: 'TOKRS_ERR_LEARN',
  /** The local Kafka broker could not be set up, started or stopped. */
  BROKER: 'TOKRS_ERR_BROKER',
  /** A Kafka operation failed. */
  KAFKA: 'TOKRS_ERR_KAFKA',
  /**
   * The brokers and this client do not accept each other (TLS certificates, SASL credentials): trying again
   * with the same settings cannot succeed, so it is never retried; the message says which setting to fix.
   */
  KAFKA_AUTH: 'TOKRS_ERR_KAFKA_AUTH',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface TokrsErrorOptions {
  /** True when trying the same thing again later may succeed. */
  retriable?: boolean;
  cause?: unknown;
}

export class TokrsError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: TokrsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokrsError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

export const topologyError = (message: string): TokrsError => new TokrsError(ERROR_CODES.TOPOLOGY, message);
export const configError = (message: string): TokrsError => new TokrsError(ERROR_CODES.CONFIG, message);

/** True for a TokrsError with the given code. */
export function isTokrsError(error: unknown, code?: ErrorCode): error is TokrsError {
  return error instanceof TokrsError && (code === undefined || error.code === code);
}

/** A one-line description of any thrown value, for logs and dead letters. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
