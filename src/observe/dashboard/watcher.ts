/**
 * Reads one topology's metrics, snapshot and dead-letter topics into a TopologyHistory, and polls the
 * topology group's consumer lag. Read-only towards Kafka: its consumer group is a throwaway one (a random
 * id) that never commits, and lag comes from admin offset fetches, so watching never moves anyone's
 * offsets. When the broker goes away the consumer is rebuilt with backoff and resumes at the offsets it had
 * reached (no re-read, no double counting).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer } from 'kafkajs';
import { decodeRecord } from '../../codec/avro.js';
import { SCHEMA_NAMES } from '../../codec/records.js';
import { describeError, ERROR_CODES, isTokrsError } from '../../errors.js';
import type { Kafka } from '../../kafka/client.js';
import type { Topology } from '../../topology/spec.js';
import { silentLogger, type Logger } from '../logger.js';
import { TopologyHistory, type ViewUpdate } from './history.js';

export interface WatcherOptions {
  kafka: Kafka;
  topology: Topology;
  onUpdate: (update: ViewUpdate) => void;
  logger?: Logger;
  /** How often consumer lag is polled. */
  lagIntervalMs?: number;
  /** Longest wait between reconnect attempts. */
  maxBackoffMs?: number;
}

export class TopologyWatcher {
  readonly history: TopologyHistory;
  /** The throwaway group this watcher reads with (tests check it never commits). */
  readonly groupId = `tokrs-dashboard-${randomUUID()}`;
  private consumer: Consumer | undefined;
  /** One admin shared by the lag poll and the consumer setup (a promise, so two callers never make two). */
  private admin: Promise<Admin> | undefined;
  private closed = false;
  private consumerUp = false;
  private adminUp = false;
  private lagTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Next offset to read per topic/partition, so a rebuilt consumer resumes where the last one stopped. */
  private readonly next = new Map<string, string>();
  private readonly log: Logger;
  /** The last refusal logged, so a dashboard with wrong settings warns once, not at every reconnect. */
  private refusal: string | undefined;
  private readonly topics: { metrics?: string; snapshots?: string; deadLetters?: string };

  constructor(private readonly options: WatcherOptions) {
    const t = options.topology;
    this.history = new TopologyHistory(t.name, t.description ?? null);
    this.log = (options.logger ?? silentLogger).child({ step: 'dashboard', topology: t.name });
    this.topics = {
      ...(t.outputs.metrics ? { metrics: t.outputs.metrics.topic } : {}),
      ...(t.outputs.snapshots ? { snapshots: t.outputs.snapshots.topic } : {}),
      ...(t.outputs.deadLetters ? { deadLetters: t.outputs.deadLetters.topic } : {}),
    };
  }

  start(): void {
    this.loop ??= this.run();
    this.lagTimer = setInterval(() => void this.pollLag(), this.options.lagIntervalMs ?? 2000);
    void this.pollLag();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.lagTimer);
    this.wake?.();
    await this.loop;
    await this.lagPoll;
    await this.dropAdmin();
  }

  private emit(update: ViewUpdate | undefined): void {
    if (update !== undefined) this.options.onUpdate(update);
  }

  private refreshStatus(detail?: string): void {
    if (this.consumerUp && this.adminUp) this.emit(this.history.setStatus({ state: 'live' }));
    else if (detail !== undefined) this.emit(this.history.setStatus({ state: 'reconnecting', detail, since: Date.now() }));
  }

  private async run(): Promise<void> {
    let backoff = 500;
    while (!this.closed) {
      try {
        const { crashed } = await this.startConsumer();
        backoff = 500;
        const reason = await crashed;
        if (this.closed) break;
        this.consumerUp = false;
        this.refreshStatus(reason);
      } catch (error) {
        this.consumerUp = false;
        if (this.closed) break;
        if (!(error instanceof WaitingForTopics)) {
          await this.dropAdmin();
          this.refreshStatus(`Kafka: ${describeError(error)}`);
        }
        if (isTokrsError(error, ERROR_CODES.KAFKA_AUTH) && error.message !== this.refusal) {
          // Not a blip: the brokers refuse these settings. Say so where the user started the dashboard.
          this.refusal = error.message;
          this.log.warn({ err: error }, 'dashboard: the brokers refused its Kafka security settings; retrying until they are fixed');
        } else this.log.debug({ err: error }, 'dashboard consumer failed; retrying');
      }
      await this.stopConsumer();
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 5000);
    }
    await this.stopConsumer();
  }

  private async stopConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) await consumer.disconnect().catch(() => undefined);
  }

  /** Starts a consumer; `crashed` settles (with a reason) when the consumer crashes or stops. */
  private async startConsumer(): Promise<{ crashed: Promise<string> }> {
    const wanted = Object.values(this.topics);
    if (wanted.length === 0) return { crashed: new Promise<string>((resolve) => (this.wake = () => resolve('closed'))) };
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      this.emit(this.history.setStatus({ state: 'waiting', detail: `waiting for topics ${missing.join(', ')} (is the topology running?)` }));
      throw new WaitingForTopics();
    }
    // Snapshots carry the whole model (MBs each): read only the latest one per partition on a first start.
    const snapshotStarts: { topic: string; partition: number; offset: string }[] = [];
    if (this.topics.snapshots !== undefined) {
      const topic = this.topics.snapshots;
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const key = `${topic}\u0000${p.partition}`;
        if (this.next.has(key)) continue;
        const last = BigInt(p.high) - 1n;
        snapshotStarts.push({ topic, partition: p.partition, offset: String(last >= BigInt(p.low) ? last : BigInt(p.low)) });
      }
    }

    const consumer = this.options.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      sessionTimeout: 10_000,
      heartbeatInterval: 2_000,
      // Rebuilt by run() instead, so that it resumes at this.next and the page hears about the outage.
      retry: { retries: 3, restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    let settle: (reason: string) => void = () => undefined;
    const crashed = new Promise<string>((resolve) => (settle = resolve));
    consumer.on(consumer.events.CRASH, (event) => settle(`consumer crashed: ${describeError(event.payload.error)}`));
    consumer.on(consumer.events.STOP, () => settle('consumer stopped'));
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.consumerUp = true;
      this.refreshStatus();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: wanted, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const key = `${topic}\u0000${partition}`;
        const resumeAt = this.next.get(key);
        if (resumeAt !== undefined && BigInt(message.offset) < BigInt(resumeAt)) return;
        this.next.set(key, String(BigInt(message.offset) + 1n));
        if (message.value === null) return;
        try {
          this.handle(topic, message.value, message.headers ?? {});
        } catch (error) {
          this.log.warn({ err: error, topic, offset: message.offset }, 'dashboard: cannot decode a record; skipped');
        }
      },
    });
    // seek() applies once partitions are assigned; it commits nothing with autoCommit off.
    for (const [key, offset] of this.next) {
      const [topic, partition] = key.split('\u0000') as [string, string];
      consumer.seek({ topic, partition: Number(partition), offset });
    }
    for (const s of snapshotStarts) consumer.seek(s);
    // close() must not wait for a crash that never comes (nor miss a close() made while this started).
    this.wake = () => settle('closed');
    if (this.closed) settle('closed');
    return { crashed };
  }

  private handle(topic: string, value: Buffer, headers: Parameters<typeof decodeRecord>[2]): void {
    if (topic === this.topics.metrics) {
      this.emit(this.history.addMetrics(decodeRecord(SCHEMA_NAMES.metrics, value, headers)));
    } else if (topic === this.topics.snapshots) {
      this.emit(this.history.addSnapshot(decodeRecord(SCHEMA_NAMES.modelSnapshot, value, headers)));
    } else if (topic === this.topics.deadLetters) {
      this.emit(this.history.addDeadLetter(decodeRecord(SCHEMA_NAMES.deadLetter, value, headers)));
    }
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.options.kafka.admin({ retry: { retries: 2 } });
      try {
        await admin.connect();
      } catch (error) {
        await admin.disconnect().catch(() => undefined);
        throw error;
      }
      return admin;
    })();
    return this.admin;
  }

  private async dropAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  /** The topology group's lag: end offsets minus committed offsets (the start offset where none is committed). */
  private lagPoll: Promise<void> | undefined;

  private pollLag(): Promise<void> {
    // One poll at a time: a slow broker must not pile polls (and admin clients) up.
    this.lagPoll ??= this.pollLagOnce().finally(() => (this.lagPoll = undefined));
    return this.lagPoll;
  }

  private async pollLagOnce(): Promise<void> {
    if (this.closed) return;
    const t = this.options.topology;
    try {
      const admin = await this.connectedAdmin();
      const existing = new Set(await admin.listTopics());
      const topics = t.source.topics.filter((topic) => existing.has(topic));
      let lag = 0;
      if (topics.length > 0) {
        const committed = await admin.fetchOffsets({ groupId: t.source.group ?? `tokrs-${t.name}`, topics });
        for (const { topic, partitions } of committed) {
          const ends = await admin.fetchTopicOffsets(topic);
          for (const end of ends) {
            const c = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
            const from = BigInt(c) >= 0n ? BigInt(c) : BigInt(end.low);
            const behind = BigInt(end.high) - from;
            if (behind > 0n) lag += Number(behind);
          }
        }
      }
      if (this.closed) return;
      this.adminUp = true;
      this.emit(this.history.addLag({ time: Date.now(), lag }));
      this.refreshStatus();
    } catch (error) {
      this.adminUp = false;
      await this.dropAdmin();
      if (!this.closed) this.refreshStatus(`Kafka unreachable: ${describeError(error)}`);
    }
  }
}

class WaitingForTopics extends Error {}
