/**
 * Model averaging across the processes of one topology (`average:` in a topology), through its snapshots
 * topic: each process learns on the partitions it holds and publishes model snapshots as usual; every
 * `average.everyMs` it replaces its model with the weighted average (`averageModels`: by examples learned)
 * of its own and the latest snapshot of each other process of the topology that is new since the last
 * average and younger than `average.maxAgeMs` (a process that stopped drops out).
 *
 * Semantics: the processes' models drift apart between averages and are pulled together at each; a
 * snapshot is at most `outputs.snapshots.everyMessages` labelled messages (of its process) old when it is
 * used, plus the commit interval with exactly-once (snapshots are published with the next checkpoint).
 * The average is not a model trained on all the messages: `npx tsx bench/averaging.ts` measures what it
 * recovers of the gap between one process on the whole stream and several on parts of it.
 */
import type { Consumer } from 'kafkajs';
import { decodeRecord } from '../codec/avro.js';
import { modelSnapshotFromRecord } from '../codec/mapping.js';
import { SCHEMA_NAMES, type ModelSnapshotRecord } from '../codec/records.js';
import { describeError } from '../errors.js';
import { withAdmin } from '../kafka/admin.js';
import type { Kafka } from '../kafka/client.js';
import { averageModels } from '../learn/average.js';
import type { OnlineClassifier } from '../learn/classifier.js';
import type { Logger } from '../observe/logger.js';

export interface ModelAveragingOptions {
  readonly kafka: Kafka;
  readonly topology: string;
  readonly topic: string;
  /** This process: its own snapshots are not averaged in again. */
  readonly instance: string;
  readonly maxAgeMs: number;
  /** Exactly-once: only committed snapshots (those of aborted transactions never existed). */
  readonly readCommitted: boolean;
  readonly log: Logger;
  readonly now?: () => number;
}

interface Received {
  readonly record: ModelSnapshotRecord;
  readonly at: number;
}

export class ModelAveraging {
  private readonly latest = new Map<string, Received>();
  /** Per other process, the snapshot (run and version) last averaged in, so none is used twice. */
  private readonly used = new Map<string, string>();
  private consumer: Consumer | undefined;
  /** Averages done, and snapshots of other processes averaged in. */
  averages = 0;
  mixedIn = 0;

  constructor(private readonly options: ModelAveragingOptions) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /**
   * Follows the snapshots topic from the first snapshot younger than `maxAgeMs` (by Kafka timestamp), so a
   * process that starts late still sees the others' latest snapshots.
   */
  async start(): Promise<void> {
    const o = this.options;
    const since = await withAdmin(o.kafka, (admin) => admin.fetchTopicOffsetsByTimestamp(o.topic, this.now() - o.maxAgeMs));
    const consumer = o.kafka.consumer({
      groupId: `tokrs-average-${o.topology}-${o.instance}-${process.pid}-${Date.now()}`,
      readUncommitted: !o.readCommitted,
      // Snapshots of a 2^20-bucket model are megabytes.
      maxBytesPerPartition: 64 * 1024 * 1024,
      maxBytes: 128 * 1024 * 1024,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [o.topic], fromBeginning: false });
    const run = consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (message.value === null) return;
        try {
          this.receive(decodeRecord(SCHEMA_NAMES.modelSnapshot, message.value, message.headers));
        } catch (error) {
          o.log.warn({ step: 'average', err: describeError(error) }, 'a record of the snapshots topic could not be decoded; left out of averaging');
        }
      },
    });
    // Seeks wait for the partition's assignment (KafkaJS applies them at the next fetch).
    for (const p of since) if (Number(p.offset) >= 0) consumer.seek({ topic: o.topic, partition: p.partition, offset: p.offset });
    await run;
  }

  /** A snapshot read from the topic (public for tests that feed records directly). */
  receive(record: ModelSnapshotRecord): void {
    if (record.topology !== this.options.topology || record.instance === null || record.instance === undefined) return;
    if (record.instance === this.options.instance) return;
    this.latest.set(record.instance, { record, at: this.now() });
  }

  /**
   * Replaces `model`'s state with the average of it and the other processes' snapshots that are new since
   * the last average. Returns the processes averaged in (none: the model is left as it is).
   */
  averageInto(model: OnlineClassifier): string[] {
    const now = this.now();
    const fresh = [...this.latest].filter(([instance, r]) => now - r.at <= this.options.maxAgeMs && this.used.get(instance) !== identity(r.record));
    if (fresh.length === 0) return [];
    const averaged = averageModels([model.snapshot(), ...fresh.map(([, r]) => modelSnapshotFromRecord(r.record))]);
    model.restore(averaged);
    for (const [instance, r] of fresh) this.used.set(instance, identity(r.record));
    this.averages++;
    this.mixedIn += fresh.length;
    return fresh.map(([instance]) => instance);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

const identity = (record: ModelSnapshotRecord): string => `${record.runId ?? ''}:${record.version}`;
