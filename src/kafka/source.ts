/**
 * A Kafka consumer group as an RxJS Observable, with backpressure: at most `maxInFlight` messages are
 * handed to the pipeline and not yet processed. When the pipeline falls behind, the consumer pauses its
 * partitions (so nothing more is fetched) and resumes once the pipeline has drained below the bound.
 * Offsets are committed only for messages the pipeline reports processed (`done`), through `commit()`,
 * which the runtime calls after flushing its outputs.
 */
import type { Consumer, ConsumerConfig } from 'kafkajs';
import { Observable } from 'rxjs';
import { ERROR_CODES, TokrsError, describeError } from '../errors.js';
import type { RawMessage } from '../codec/decode-operator.js';
import { installBeforeRejoinHook, type BeforeRejoinPayload } from './before-rejoin.js';
import type { Kafka } from './client.js';
import { OffsetTracker, type CommitPoint } from './offset-tracker.js';


export interface KafkaSourceOptions {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Most messages handed out and not yet processed. */
  maxInFlight: number;
  /**
   * Most bytes (keys + values) handed out and not yet processed: backpressure for large messages, which
   * `maxInFlight` alone lets pile up (2000 × 10 MB). One message is always let through, however large.
   */
  maxInFlightBytes?: number;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  /** Called after each rebalance with the partitions this member now holds. */
  onAssignment?: (assignment: Record<string, number[]>, revoked: { topic: string; partition: number }[]) => void;
  /** Called as soon as the consumer learns a rebalance has started (before the new assignment). */
  onRebalancing?: () => void;
  /**
   * Called before this member rejoins its group, which waits for the returned promise: the place to commit
   * what was processed, so the partitions' next owners read offsets that nothing will overwrite (see
   * before-rejoin.ts). `lost`: the member was no longer in the group (its session expired, or the consumer
   * restarted after a crash), so its partitions may already have moved and nothing may be committed.
   */
  beforeRejoin?: (lost: boolean) => Promise<void>;
  consumerConfig?: Partial<ConsumerConfig>;
  /**
   * Positions a restored state already covers: earlier messages are passed over (and count as processed),
   * for when the group's committed offsets lag behind the checkpoint (at-least-once after a crash).
   */
  resumeFrom?: readonly { topic: string; partition: number; offset: string }[];
}

export class KafkaSource {
  readonly tracker = new OffsetTracker();
  private consumer: Consumer | undefined;
  private drainWaiters: (() => void)[] = [];
  private stopping = false;
  /** Connecting, subscribing and joining the group: `close` waits for it, or the join could finish after the disconnect. */
  private starting: Promise<void> = Promise.resolve();
  /** Highest number of messages in flight seen, for tests and metrics. */
  maxObservedInFlight = 0;
  pauses = 0;
  /** Bytes of the messages in flight, and the most seen; pauses because of the byte bound. */
  bytesInFlight = 0;
  maxObservedBytesInFlight = 0;
  bytePauses = 0;
  /** Size of each message in flight, by topic, partition and offset (no key string built per message). */
  private readonly sizes = new Map<string, Map<number, Map<string, number>>>();
  private sizesCount = 0;

  /** Messages passed over because a restored checkpoint already covered them. */
  skipped = 0;
  /** Messages the consumer delivered again (after it restarted) and that were passed over. */
  redelivered = 0;
  private readonly resumeAt: Map<string, bigint>;

  constructor(private readonly options: KafkaSourceOptions) {
    this.resumeAt = new Map((options.resumeFrom ?? []).map((p) => [`${p.topic}\u0000${p.partition}`, BigInt(p.offset)]));
  }

  /** Cold: subscribing joins the group; unsubscribing leaves it. Completes after `stop()`. */
  messages(): Observable<RawMessage> {
    return new Observable<RawMessage>((subscriber) => {
      const o = this.options;
      const consumer = o.kafka.consumer({
        groupId: o.groupId,
        sessionTimeout: o.sessionTimeout ?? 30_000,
        heartbeatInterval: o.heartbeatInterval ?? 3_000,
        ...o.consumerConfig,
      });
      if (o.beforeRejoin !== undefined) installBeforeRejoinHook();
      this.consumer = consumer;
      let assignment: Record<string, number[]> = {};
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        this.memberId = event.payload.memberId;
        this.joins++;
        const next = event.payload.memberAssignment;
        // Partitions that moved to another member: their in-flight work no longer counts here.
        const revoked: { topic: string; partition: number }[] = [];
        for (const [topic, partitions] of Object.entries(assignment)) {
          for (const p of partitions) {
            if (!(next[topic] ?? []).includes(p)) {
              this.tracker.forget(topic, p);
              this.forgetBytes(topic, p);
              revoked.push({ topic, partition: p });
            }
          }
        }
        assignment = next;
        this.assignment = next;
        o.onAssignment?.(next, revoked);
      });
      consumer.on(consumer.events.REBALANCING, (event) => {
        const payload = event.payload as Partial<BeforeRejoinPayload>;
        // From the before-rejoin hook: the rejoin waits for the callback.
        if (payload.hold !== undefined) {
          if (o.beforeRejoin !== undefined) payload.hold(o.beforeRejoin(payload.lost === true));
        } else {
          o.onRebalancing?.();
        }
      });
      consumer.on(consumer.events.CRASH, (event) => {
        // KafkaJS restarts the consumer itself on retriable errors; a crash it will not restart ends the stream.
        if (!event.payload.restart) subscriber.error(event.payload.error);
        // A restarted consumer has left the group (consumer/index.js onCrash disconnects) and joins as a new
        // member: whatever it held may have moved meanwhile.
        else void o.beforeRejoin?.(true);
      });

      // A stop can come at any point of this: each step checks it, so a run stopped while it was still
      // joining does not go on to join and hold partitions after it has stopped.
      const start = async (): Promise<void> => {
        await consumer.connect();
        if (this.stopping) return;
        await consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning });
        if (this.stopping) return;
        await consumer.run({
          autoCommit: false,
          // A fetched batch at a time, in one loop: eachMessage cost KafkaJS several awaits, an offset
          // resolution (Long arithmetic) and a heartbeat check per message. Offsets are resolved once per
          // batch, up to the last message handled; a seek or a rebalance makes the rest of a batch stale.
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
            const { topic, partition } = batch;
            let handled: string | undefined;
            try {
              for (const message of batch.messages) {
                if (this.stopping || subscriber.closed || !isRunning() || isStale()) break;
                if (this.full() || this.holding || this.blocked) {
                  if (this.tracker.inFlight < o.maxInFlight && !this.holding && !this.blocked) this.bytePauses++;
                  await this.waitForDrain(consumer, heartbeat);
                  if (this.stopping || subscriber.closed || !isRunning() || isStale()) break;
                }
                // A batch fetched before a rebalance, handled after it: the partition may be someone else's now.
                // From here to `next` nothing may wait, or a message could be counted in flight after the
                // stream ended (and a checkpoint would never be possible again).
                if (!(this.assignment[topic] ?? []).includes(partition)) break;
                const seekTo = this.pendingSeeks.size === 0 ? undefined : this.pendingSeeks.get(`${topic}\u0000${partition}`);
                if (seekTo !== undefined) {
                  this.pendingSeeks.delete(`${topic}\u0000${partition}`);
                  if (BigInt(message.offset) !== seekTo) {
                    // Not where the rewound state continues: go there, and take this message again from there.
                    consumer.seek({ topic, partition, offset: seekTo.toString() });
                    break;
                  }
                }
                handled = message.offset;
                const offset = BigInt(message.offset);
                const seenUpTo = this.tracker.nextUnseen(topic, partition);
                if (seenUpTo !== undefined && offset < seenUpTo) {
                  // Re-delivered after a consumer restart: the pipeline's state already includes it.
                  this.redelivered++;
                  continue;
                }
                this.tracker.started(topic, partition, offset);
                const resume = this.resumeAt.size === 0 ? undefined : this.resumeAt.get(`${topic}\u0000${partition}`);
                if (resume !== undefined && offset < resume) {
                  this.tracker.done(topic, partition, message.offset);
                  this.skipped++;
                  continue;
                }
                this.maxObservedInFlight = Math.max(this.maxObservedInFlight, this.tracker.inFlight);
                const size = (message.value?.length ?? 0) + (message.key?.length ?? 0);
                this.setSize(topic, partition, message.offset, size);
                this.bytesInFlight += size;
                this.maxObservedBytesInFlight = Math.max(this.maxObservedBytesInFlight, this.bytesInFlight);
                subscriber.next({
                  topic,
                  partition,
                  offset: message.offset,
                  key: message.key,
                  value: message.value,
                  timestamp: Number(message.timestamp),
                  headers: message.headers ?? {},
                });
                // Yielding now and then lets timers and I/O (commits, transactions, worker replies) through
                // while a large batch is handed over, and keeps this member's heartbeats going.
                if (++this.sinceYield >= 256) {
                  this.sinceYield = 0;
                  await new Promise<void>((resolve) => setImmediate(resolve));
                  await heartbeat();
                }
              }
            } finally {
              if (handled !== undefined && !isStale()) resolveOffset(handled);
            }
          },
        });
      };
      this.starting = start().catch((error: unknown) => subscriber.error(error));
      this.completeStream = () => subscriber.complete();
      // The consumer stays connected after the stream ends, so the runner can commit the final offsets;
      // `close()` leaves the group.
      return () => {
        this.stopping = true;
        this.releaseWaiters();
      };
    });
  }

  private completeStream: () => void = () => undefined;

  private async waitForDrain(consumer: Consumer, heartbeat: () => Promise<void>): Promise<void> {
    const topics = this.options.topics.map((topic) => ({ topic }));
    consumer.pause(topics);
    this.pauses++;
    try {
      while ((this.full() || this.holding || this.blocked) && !this.stopping) {
        await new Promise<void>((resolve) => {
          this.drainWaiters.push(resolve);
          // Wake up now and then to heartbeat, so a long stall is not taken for a dead member.
          setTimeout(resolve, 1_000);
        });
        await heartbeat().catch(() => undefined);
      }
    } finally {
      consumer.resume(topics);
    }
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private holding = false;
  /** Set by block(): no message is handed out until unblock(), whatever hold() does meanwhile. */
  private blocked = false;
  private sinceYield = 0;
  private readonly pendingSeeks = new Map<string, bigint>();
  /** The partitions this member holds now. */
  assignment: Record<string, number[]> = {};

  /** This member's id in its group, from the last join. */
  private memberId: string | undefined;
  private joins = 0;

  /**
   * How many times this consumer has joined its group. State captured under one join must not be committed
   * under another: a rejoin that the before-rejoin hook did not see (the member was dropped) may have moved
   * the state's partitions to other members in between.
   */
  get generation(): number {
    return this.joins;
  }

  /**
   * Whether the group's coordinator still lists this member. A member that stalled past its session
   * timeout is dropped and its partitions handed to others, but it learns so only at its next heartbeat;
   * KafkaJS sends transactional offsets without the group generation (no KIP-447), so nothing on the broker
   * stops such a zombie from committing. Asking right before a commit narrows that window to the commit
   * itself. When the coordinator cannot answer (it is moving, the broker restarts), this throws a retriable
   * error: the caller's transaction is aborted and tried again, never committed on a guess.
   */
  async isMember(): Promise<boolean> {
    const consumer = this.consumer;
    if (consumer === undefined || this.memberId === undefined) return true;
    let group: Awaited<ReturnType<Consumer['describeGroup']>>;
    try {
      group = await consumer.describeGroup();
    } catch (error) {
      throw new TokrsError(ERROR_CODES.KAFKA, `could not ask the group coordinator whether this member is still in ${this.options.groupId}: ${describeError(error)}`, {
        retriable: true,
        cause: error,
      });
    }
    if (group.state === 'Dead' || group.state === 'Empty') return false;
    return group.members.some((m) => m.memberId === this.memberId);
  }

  /** Stops handing out messages until `unblock()` (during a rebalance, or while the pipeline is rewound). */
  block(): void {
    this.blocked = true;
  }

  unblock(): void {
    this.blocked = false;
    if (!this.full() && !this.holding) this.releaseWaiters();
  }

  /**
   * Forgets every partition's progress and moves the consumer back to `positions` (a checkpoint's), for
   * partitions this member holds: their messages are delivered and processed again.
   */
  rewind(positions: readonly { topic: string; partition: number; offset: string }[]): void {
    for (const [topic, partitions] of Object.entries(this.assignment)) {
      for (const p of partitions) {
        this.tracker.forget(topic, p);
        this.forgetBytes(topic, p);
      }
    }
    this.resumeAt.clear();
    this.seekTo(positions);
  }

  /**
   * Moves the consumer to `positions` in the partitions they name (and this member holds), e.g. where the
   * state taken over with a partition continues; other partitions go on where they are.
   */
  seekTo(positions: readonly { topic: string; partition: number; offset: string }[]): void {
    for (const p of positions) {
      if (!(this.assignment[p.topic] ?? []).includes(p.partition)) continue;
      this.tracker.forget(p.topic, p.partition);
      this.forgetBytes(p.topic, p.partition);
      this.resumeAt.set(`${p.topic}\u0000${p.partition}`, BigInt(p.offset));
      // Seeking now may fail while the consumer rejoins its group; then the next message of the partition
      // does it (and checks it, if this one worked).
      this.pendingSeeks.set(`${p.topic}\u0000${p.partition}`, BigInt(p.offset));
      try {
        this.consumer?.seek({ topic: p.topic, partition: p.partition, offset: p.offset });
      } catch {
        // See above.
      }
    }
  }

  /**
   * Stops handing out messages until everything in flight is processed, for a checkpoint that must match
   * its offsets exactly while asynchronous stages (tokenizer workers) hold messages. Returns a release.
   */
  async hold(timeoutMs = 30_000): Promise<() => void> {
    this.holding = true;
    const deadline = Date.now() + timeoutMs;
    while (this.tracker.inFlight > 0 && Date.now() < deadline && !this.stopping) await new Promise((r) => setTimeout(r, 5));
    return () => {
      this.holding = false;
      if (!this.blocked) this.releaseWaiters();
    };
  }

  /** The pipeline has processed (or dead-lettered) this message. */
  done(message: { topic: string; partition: number; offset: string }): void {
    this.tracker.done(message.topic, message.partition, message.offset);
    const byOffset = this.sizes.get(message.topic)?.get(message.partition);
    const size = byOffset?.get(message.offset);
    if (byOffset !== undefined && size !== undefined) {
      byOffset.delete(message.offset);
      this.sizesCount--;
      this.bytesInFlight -= size;
    }
    if (this.drainWaiters.length > 0 && !this.full() && !this.holding && !this.blocked) this.releaseWaiters();
  }

  private setSize(topic: string, partition: number, offset: string, size: number): void {
    let byPartition = this.sizes.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.sizes.set(topic, byPartition);
    }
    let byOffset = byPartition.get(partition);
    if (byOffset === undefined) {
      byOffset = new Map();
      byPartition.set(partition, byOffset);
    }
    if (!byOffset.has(offset)) this.sizesCount++;
    byOffset.set(offset, size);
  }

  /** At a bound: maxInFlight messages, or maxInFlightBytes bytes (with at least one message in flight). */
  private full(): boolean {
    const { maxInFlight, maxInFlightBytes } = this.options;
    if (this.tracker.inFlight >= maxInFlight) return true;
    return maxInFlightBytes !== undefined && this.bytesInFlight >= maxInFlightBytes && this.sizesCount > 0;
  }

  /** A partition's in-flight messages no longer count (it moved to another member, or was rewound). */
  private forgetBytes(topic: string, partition: number): void {
    const byOffset = this.sizes.get(topic)?.get(partition);
    if (byOffset === undefined) return;
    for (const size of byOffset.values()) this.bytesInFlight -= size;
    this.sizesCount -= byOffset.size;
    this.sizes.get(topic)?.delete(partition);
  }

  /** Commits the processed prefix of every partition. Call only after the outputs it led to are flushed. */
  async commit(points: readonly CommitPoint[] = this.tracker.uncommitted()): Promise<readonly CommitPoint[]> {
    if (points.length === 0 || this.consumer === undefined) return [];
    await this.consumer.commitOffsets([...points]);
    this.tracker.markCommitted(points);
    return points;
  }

  /** Stops fetching; the stream completes, so the pipeline can finish its in-flight messages. */
  stop(): void {
    this.stopping = true;
    this.releaseWaiters();
    this.completeStream();
  }

  /** Leaves the consumer group (once the consumer has finished joining it, if it was still joining). */
  async close(): Promise<void> {
    this.stopping = true;
    this.releaseWaiters();
    await this.starting;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
