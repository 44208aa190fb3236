/**
 * Produces text events from lines (JSON Lines or plain text) into a topic, optionally at a fixed rate to
 * simulate a live stream. Used by `tokrs feed`, the demo and the tests.
 */
import type { Producer } from 'kafkajs';
import { encodeRecord } from '../codec/avro.js';
import { getPath } from '../codec/input.js';
import { SCHEMA_NAMES, type TextEventRecord } from '../codec/records.js';
import { configError } from '../errors.js';
import type { Kafka } from './client.js';

export interface FeedOptions {
  topic: string;
  /** How messages are written: the JSON object as read (json), a dev.tokrs.TextEvent (avro), or the text alone (text). */
  format: 'json' | 'avro' | 'text';
  /** Input lines are JSON objects (else each line is a text). */
  jsonInput: boolean;
  textField?: string;
  /** Field of the label (default `label`; absent or null: unlabelled). */
  labelField?: string;
  /** Field of the id; also the message key when given. */
  idField?: string;
  /**
   * Field of the event time (epoch milliseconds, or an ISO 8601 string); default "timestamp". When present
   * it becomes the Kafka message timestamp (and the event's own timestamp), so replays in event time and
   * time windows see when things happened, not when they were fed. Absent: the broker's time.
   */
  timestampField?: string;
  /** Messages per second; unlimited when absent. */
  rate?: number;
  limit?: number;
  batchSize?: number;
  /** Clock of the rate limiter; injected for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Stop early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface FeedResult {
  sent: number;
  skipped: number;
}

/** The line as a text event, or undefined when it has no text (not JSON, or no string at the text field). */
function parseLine(line: string, index: number, options: FeedOptions): TextEventRecord | undefined {
  if (!options.jsonInput) return { id: `line-${index}`, text: line, label: null, timestamp: null, attributes: {} };
  let object: unknown;
  try {
    object = JSON.parse(line);
  } catch {
    return undefined;
  }
  const text = getPath(object, options.textField ?? 'text');
  if (typeof text !== 'string') return undefined;
  const label = getPath(object, options.labelField ?? 'label');
  const id = options.idField === undefined ? undefined : getPath(object, options.idField);
  const timestamp = eventTime(getPath(object, options.timestampField ?? 'timestamp'));
  if (timestamp === undefined) return undefined;
  return {
    id: typeof id === 'string' || typeof id === 'number' ? String(id) : `line-${index}`,
    text,
    label: label === undefined || label === null ? null : String(label),
    timestamp,
    attributes: {},
  };
}

/** Epoch ms from a number or an ISO 8601 string; null when absent; undefined when unusable (the line is skipped). */
function eventTime(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

type FeedMessage = { key: string | null; value: Buffer; timestamp?: string };

function toMessage(event: TextEventRecord, options: FeedOptions): FeedMessage {
  const key = options.idField === undefined ? null : (event.id ?? null);
  const time = event.timestamp == null ? {} : { timestamp: String(event.timestamp) };
  switch (options.format) {
    case 'text':
      return { key, value: Buffer.from(event.text), ...time };
    case 'json':
      return {
        key,
        value: Buffer.from(
          JSON.stringify({
            id: event.id,
            text: event.text,
            ...(event.label == null ? {} : { label: event.label }),
            ...(event.timestamp == null ? {} : { timestamp: event.timestamp }),
          }),
        ),
        ...time,
      };
    case 'avro':
      return { key, value: encodeRecord(SCHEMA_NAMES.textEvent, event).value, ...time };
  }
}

export async function feedLines(kafka: Kafka, lines: AsyncIterable<string> | Iterable<string>, options: FeedOptions): Promise<FeedResult> {
  if (options.rate !== undefined && !(options.rate > 0)) throw configError(`--rate must be a positive number, got ${options.rate}`);
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const batchSize = options.rate === undefined ? (options.batchSize ?? 500) : Math.max(1, Math.min(options.batchSize ?? 500, Math.ceil(options.rate / 10)));
  let batch: FeedMessage[] = [];
  let sent = 0;
  let skipped = 0;
  let index = 0;
  const started = now();
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await producer.send({ topic: options.topic, messages: batch });
    sent += batch.length;
    batch = [];
    if (options.rate !== undefined) {
      // Pace by the total so far, so rounding in one batch does not drift the overall rate.
      const due = started + (sent / options.rate) * 1000;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
    }
  };
  try {
    for await (const line of lines) {
      if (options.signal?.aborted) break;
      if (options.limit !== undefined && sent + batch.length >= options.limit) break;
      if (line.trim() === '') continue;
      const event = parseLine(line, index++, options);
      if (event === undefined) {
        skipped++;
        continue;
      }
      batch.push(toMessage(event, options));
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return { sent, skipped };
}
