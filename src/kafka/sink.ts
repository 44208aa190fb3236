/**
 * A batched producer for the topology's outputs: records are buffered and sent together when the buffer
 * holds `batchSize` records, every `lingerMs`, and on `flush()`. Sends go out one batch at a time, in order,
 * so a reader of an output topic sees records in the order the pipeline produced them.
 */
import { CompressionTypes, type IHeaders, type Message, type Producer } from 'kafkajs';
import type { Kafka } from './client.js';
import { loadCodec } from './codecs.js';
import { withRetry, type RetryOptions } from './retry.js';

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
} as const;

/** Bytes of record values per produce request; the broker refuses requests over 100 MB. */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** Splits records into runs of at most `maxBytes` of values (a larger record gets a run of its own). */
export function chunksOf<R extends { value: Buffer }>(records: readonly R[], maxBytes: number): R[][] {
  const chunks: R[][] = [];
  let current: R[] = [];
  let bytes = 0;
  for (const r of records) {
    if (current.length > 0 && bytes + r.value.length > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += r.value.length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export interface OutputRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer;
  headers?: IHeaders;
  partition?: number;
}

export interface KafkaSinkOptions {
  kafka: Kafka;
  batchSize?: number;
  lingerMs?: number;
  compression?: Compression;
  /** An already connected producer to use; the sink then does not own it. */
  producer?: Producer;
  /** How a failed batch is retried (a broker restarting) before the sink gives up. */
  retry?: RetryOptions;
}

export class KafkaSink {
  private readonly producer: Producer;
  private readonly owned: boolean;
  private buffer: OutputRecord[] = [];
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private connected = false;
  /** Records sent, per topic. */
  readonly sent = new Map<string, number>();

  constructor(private readonly options: KafkaSinkOptions) {
    // Refused now, not at the first send, when the codec's package does not load here.
    loadCodec(options.compression ?? 'none');
    this.owned = options.producer === undefined;
    this.producer = options.producer ?? options.kafka.producer({ allowAutoTopicCreation: false });
    this.connected = !this.owned;
  }

  async connect(): Promise<void> {
    if (!this.connected) await this.producer.connect();
    this.connected = true;
  }

  /** Queues a record. Throws the error of an earlier failed send, so failures are not silently dropped. */
  send(record: OutputRecord): void {
    if (this.failure !== undefined) throw this.failure;
    this.buffer.push(record);
    if (this.buffer.length >= (this.options.batchSize ?? 500)) this.startSend();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.startSend(), this.options.lingerMs ?? 50);
      this.timer.unref();
    }
  }

  private startSend(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    for (const chunk of chunksOf(this.buffer, MAX_REQUEST_BYTES)) this.sendChunk(chunk);
    this.buffer = [];
  }

  private sendChunk(batch: readonly OutputRecord[]): void {
    const byTopic = new Map<string, Message[]>();
    for (const r of batch) {
      const list = byTopic.get(r.topic) ?? [];
      const message: Message = { key: r.key, value: r.value };
      if (r.headers !== undefined) message.headers = r.headers;
      if (r.partition !== undefined) message.partition = r.partition;
      list.push(message);
      byTopic.set(r.topic, list);
    }
    this.sending = this.sending.then(async () => {
      if (this.failure !== undefined) return;
      try {
        // The idempotent producer would make a resend safe; KafkaJS's own retries come first, this covers
        // an outage longer than they last.
        await withRetry(
          () =>
            this.producer.sendBatch({
              topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
              compression: COMPRESSION[this.options.compression ?? 'none'],
            }),
          this.options.retry ?? {},
        );
        for (const [topic, messages] of byTopic) this.sent.set(topic, (this.sent.get(topic) ?? 0) + messages.length);
      } catch (error) {
        this.failure = error;
      }
    });
  }

  /** Sends everything queued and waits until Kafka has acknowledged it. */
  async flush(): Promise<void> {
    this.startSend();
    await this.sending;
    if (this.failure !== undefined) throw this.failure;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      if (this.owned && this.connected) await this.producer.disconnect();
      this.connected = false;
    }
  }
}
