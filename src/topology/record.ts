import type { SparseVector } from '../features/sparse-vector.js';

/** Where a record came from in Kafka; absent for records replayed from a file. */
export interface SourcePosition {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are int64; kept as decimal strings, as KafkaJS gives them. */
  readonly offset: string;
}

/** A decoded input message: what every stage after `decode` sees. */
export interface TextRecord {
  readonly id: string;
  readonly text: string;
  readonly label?: string;
  /** Event time, ms since the epoch. */
  readonly timestamp: number;
  readonly attributes?: Readonly<Record<string, string>>;
  readonly source?: SourcePosition;
}

/** A record after `tokenize` and `features`. */
export interface FeaturedRecord extends TextRecord {
  /**
   * The tokens. Absent when the tokenize stage ran on worker threads inside a topology: nothing after it
   * reads them (the reservoir and the learner take `features` and `tokenCount`), and sending them back cost
   * the main thread more than tokenizing there (see `keepTokens` in tokenize/worker-pool.ts).
   */
  readonly tokens?: readonly string[];
  readonly tokenCount: number;
  /** True when the text was cut to the configured maximum length before tokenizing. */
  readonly truncated: boolean;
  readonly features: SparseVector;
}

/** What the reservoir keeps and the learner replays: only what learning needs, to keep memory fixed. */
export interface Example {
  readonly features: SparseVector;
  readonly label: string;
  readonly tokenCount: number;
  readonly timestamp: number;
}

/** What the tokenize stage adds to a record. */
export interface TokenizedFields {
  readonly tokens?: readonly string[];
  readonly tokenCount: number;
  readonly truncated: boolean;
  readonly features: SparseVector;
}

/**
 * `record` with the tokenize stage's fields added, every other field kept.
 *
 * Not `{ ...record, tokenCount, … }`: on Node 20 each property written after a leading spread cost ~650 ns
 * (the clone's shape has no cached transitions), ~2 µs a record, a tenth of a topology's main thread. A
 * fresh object filled by Object.assign and then plain assignments costs ~80 ns (`npx tsx bench/record-copy.ts`).
 */
export function withTokenized(record: TextRecord, fields: TokenizedFields): FeaturedRecord {
  const out = Object.assign({}, record) as { -readonly [K in keyof FeaturedRecord]: FeaturedRecord[K] };
  if (fields.tokens !== undefined) out.tokens = fields.tokens;
  out.tokenCount = fields.tokenCount;
  out.truncated = fields.truncated;
  out.features = fields.features;
  return out;
}
