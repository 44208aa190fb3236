/**
 * What a replay reads, as chunks of raw messages in one defined order: (timestamp, partition, offset),
 * topic last. From Kafka: a k-way merge of the partitions' ranges, read by a consumer of its own. From a
 * file: its lines in order, partition 0, offset = line number.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Consumer } from 'kafkajs';
import type { RawMessage } from '../codec/decode-operator.js';
import { getPath } from '../codec/input.js';
import { ERROR_CODES, TokrsError, describeError } from '../errors.js';
import type { Kafka } from '../kafka/client.js';
import type { PartitionRange } from './range.js';

/** Offsets are int64 decimal strings; compare them without converting to numbers. */
export function compareOffsets(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** The replay order: timestamp, then partition, then offset (then topic, when several topics are merged). */
export function compareMessages(a: RawMessage, b: RawMessage): number {
  return (
    a.timestamp - b.timestamp ||
    a.partition - b.partition ||
    compareOffsets(a.offset, b.offset) ||
    (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
  );
}

interface PartitionBuffer {
  readonly range: PartitionRange;
  items: RawMessage[];
  head: number;
  done: boolean;
  paused: boolean;
}

export interface KafkaRangeOptions {
  /** Messages buffered per partition before its fetching is paused. */
  highWater?: number;
  /** Most messages per yielded chunk. */
  chunk?: number;
}

/**
 * Reads exactly `ranges` and yields its messages merged in replay order, in chunks. A consumer with a
 * throwaway group id seeks each partition to its start and never commits, so the topology's consumer
 * group (and its committed offsets) are left alone; the throwaway group is deleted at the end. Memory is
 * bounded: a partition whose buffer is full is paused until the merge has drained it.
 */
export async function* readKafkaRange(kafka: Kafka, ranges: readonly PartitionRange[], options: KafkaRangeOptions = {}): AsyncGenerator<RawMessage[]> {
  const highWater = options.highWater ?? 5000;
  const chunkSize = options.chunk ?? 500;
  const buffers = new Map<string, PartitionBuffer>();
  const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  for (const range of ranges) {
    const empty = compareOffsets(range.start, range.end) >= 0;
    buffers.set(key(range.topic, range.partition), { range, items: [], head: 0, done: empty, paused: false });
  }
  if ([...buffers.values()].every((b) => b.done)) return;

  let failure: unknown;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const topics = [...new Set(ranges.map((r) => r.topic))];
  const groupId = `tokrs-replay-${randomUUID()}`;
  // A short fetch wait: at the end every partition is paused or drained, and disconnect waits for the
  // fetch in flight (KafkaJS's 5 s default would add 5 s to every replay).
  const consumer: Consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytes: 4 * 1024 * 1024, maxWaitTimeInMs: 250 });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) {
      failure = event.payload.error;
      signal();
    }
  });
  const pause = (b: PartitionBuffer): void => {
    if (b.paused) return;
    b.paused = true;
    consumer.pause([{ topic: b.range.topic, partitions: [b.range.partition] }]);
  };

  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const b = buffers.get(key(batch.topic, batch.partition));
        if (b === undefined || b.done) return;
        for (const m of batch.messages) {
          if (compareOffsets(m.offset, b.range.start) < 0 || compareOffsets(m.offset, b.range.end) >= 0) continue;
          b.items.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            timestamp: Number(m.timestamp),
            headers: m.headers ?? {},
          });
        }
        // The batch's last offset counts skipped ones too (transaction markers, compacted records).
        const last = batch.isEmpty() ? undefined : batch.lastOffset();
        if (last !== undefined && compareOffsets(String(BigInt(last) + 1n), b.range.end) >= 0) {
          b.done = true;
          pause(b);
        } else if (b.items.length - b.head >= highWater) pause(b);
        signal();
      },
    });
    // Partitions outside the range are paused at once; the others start at their range's start.
    for (const b of buffers.values()) {
      if (b.done) pause(b);
      else consumer.seek({ topic: b.range.topic, partition: b.range.partition, offset: b.range.start });
    }

    for (;;) {
      if (failure !== undefined) throw failure;
      const live = [...buffers.values()].filter((b) => !b.done || b.head < b.items.length);
      if (live.length === 0) return;
      // The merge may only emit while every unfinished partition has a message buffered: an empty one
      // might still deliver an earlier timestamp.
      const chunk: RawMessage[] = [];
      while (chunk.length < chunkSize) {
        let best: PartitionBuffer | undefined;
        let blocked = false;
        for (const b of live) {
          if (b.head >= b.items.length) {
            if (!b.done) blocked = true;
            continue;
          }
          if (best === undefined || compareMessages(b.items[b.head]!, best.items[best.head]!) < 0) best = b;
        }
        if (blocked || best === undefined) break;
        chunk.push(best.items[best.head++]!);
        if (best.head > 1024 && best.head * 2 > best.items.length) {
          best.items = best.items.slice(best.head);
          best.head = 0;
        }
      }
      for (const b of live) {
        if (b.paused && !b.done && b.items.length - b.head < highWater / 2) {
          b.paused = false;
          consumer.resume([{ topic: b.range.topic, partitions: [b.range.partition] }]);
        }
      }
      if (chunk.length > 0) yield chunk;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } catch (error) {
    throw error instanceof TokrsError ? error : new TokrsError(ERROR_CODES.KAFKA, `replay: reading the range failed: ${describeError(error)}`, { cause: error });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    // The group never committed anything; deleting it keeps `kafka-consumer-groups --list` clean.
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => void admin.disconnect().catch(() => undefined));
  }
}

export interface FileSource {
  /** The made-up topic name messages carry: `file:<basename>`. */
  readonly topic: string;
  /** Number of lines (the offsets are 0 … lines-1). */
  readonly lines: number;
  /** sha256 of the file's bytes: the report names exactly what was replayed. */
  readonly sha256: string;
  /** First line whose event time is at or after `time`, or `lines`. */
  firstAtOrAfter(time: number): number;
  /** Non-empty lines in [start, end), in chunks. */
  read(start: number, end: number, chunk?: number): AsyncGenerator<RawMessage[]>;
}

/**
 * A JSON Lines file as a one-partition topic. A line's event time is the topology's timestamp field
 * (ms or ISO 8601) when the line has it, else its line number (ms since the epoch), so files without
 * times still replay deterministically.
 */
export async function openFileSource(path: string, timestampField: string | null): Promise<FileSource> {
  const topic = `file:${basename(path)}`;
  const times: number[] = [];
  const timeOf = (line: string, index: number): number => {
    if (timestampField === null || line.length === 0) return index;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return index;
    }
    const v = getPath(json, timestampField);
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string') {
      const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (Number.isFinite(ms)) return ms;
    }
    return index;
  };
  const lines = async function* (onData?: (chunk: string) => void): AsyncGenerator<string> {
    const input = createReadStream(path, { encoding: 'utf8' });
    if (onData !== undefined) input.on('data', (chunk) => onData(chunk as string));
    const rl = createInterface({ input, crlfDelay: Infinity });
    yield* rl;
  };
  const hash = createHash('sha256');
  try {
    let i = 0;
    for await (const line of lines((chunk) => hash.update(chunk, 'utf8'))) times.push(timeOf(line, i++));
  } catch (error) {
    throw new TokrsError(ERROR_CODES.CONFIG, `--input ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? describeError(error)})`, { cause: error });
  }
  return {
    topic,
    lines: times.length,
    sha256: hash.digest('hex'),
    firstAtOrAfter(time) {
      const i = times.findIndex((t) => t >= time);
      return i < 0 ? times.length : i;
    },
    async *read(start, end, chunk = 500) {
      let i = 0;
      let out: RawMessage[] = [];
      for await (const line of lines()) {
        const offset = i++;
        if (offset < start || line.length === 0) continue;
        if (offset >= end) break;
        out.push({ topic, partition: 0, offset: String(offset), key: null, value: Buffer.from(line, 'utf8'), timestamp: times[offset]!, headers: {} });
        if (out.length >= chunk) {
          yield out;
          out = [];
        }
      }
      if (out.length > 0) yield out;
    },
  };
}
