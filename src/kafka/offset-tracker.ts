/**
 * Tracks, per topic-partition, which handed-out offsets the pipeline has fully processed, so that only the
 * contiguous processed prefix is ever committed: a message still in flight holds back the commit of every
 * later offset of its partition, and a crash re-delivers it instead of losing it.
 */
export interface CommitPoint {
  topic: string;
  partition: number;
  /** The next offset to read: one past the last processed offset, as Kafka expects in a commit. */
  offset: string;
}

interface PartitionState {
  /** Offsets handed out and not yet processed, in order. */
  pending: bigint[];
  /** Processed offsets that are not yet contiguous with the committed prefix. */
  doneOutOfOrder: Set<bigint>;
  /** One past the last offset of the processed prefix, or undefined when nothing was processed yet. */
  next: bigint | undefined;
  committed: bigint | undefined;
}

type Entry = PartitionState & { topic: string; partition: number };

export class OffsetTracker {
  /** By topic, then partition: no "topic/partition" key string to build and hash for every message. */
  private readonly topics = new Map<string, Map<number, Entry>>();
  private inFlightCount = 0;

  /** Messages handed out and not yet processed. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  private get(topic: string, partition: number): Entry | undefined {
    return this.topics.get(topic)?.get(partition);
  }

  private *entries(): Generator<Entry> {
    for (const byPartition of this.topics.values()) yield* byPartition.values();
  }

  private state(topic: string, partition: number): Entry {
    let byPartition = this.topics.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.topics.set(topic, byPartition);
    }
    let s = byPartition.get(partition);
    if (s === undefined) {
      s = { topic, partition, pending: [], doneOutOfOrder: new Set(), next: undefined, committed: undefined };
      byPartition.set(partition, s);
    }
    return s;
  }

  /**
   * The next offset this process has not handed out yet in a partition, or undefined when it has handed
   * out none. A message below it was already given to the pipeline: when the consumer re-delivers it
   * (it restarted after a broker failure, from the committed offset), it must not be processed again.
   */
  nextUnseen(topic: string, partition: number): bigint | undefined {
    const s = this.get(topic, partition);
    if (s === undefined) return undefined;
    if (s.pending.length > 0) return s.pending[s.pending.length - 1]! + 1n;
    return s.next;
  }

  /** A message was handed to the pipeline. Offsets of one partition arrive in increasing order. */
  started(topic: string, partition: number, offset: string | bigint): void {
    this.state(topic, partition).pending.push(typeof offset === 'bigint' ? offset : BigInt(offset));
    this.inFlightCount++;
  }

  /** The pipeline is done with a message (processed, or sent to the dead-letter topic). */
  done(topic: string, partition: number, offset: string): void {
    const s = this.get(topic, partition);
    if (s === undefined) return;
    const o = BigInt(offset);
    if (s.pending.length > 0 && s.pending[0] === o) {
      s.pending.shift();
      s.next = o + 1n;
      // Earlier completions that were waiting for this one are now contiguous.
      while (s.pending.length > 0 && s.doneOutOfOrder.has(s.pending[0]!)) {
        const head = s.pending.shift()!;
        s.doneOutOfOrder.delete(head);
        s.next = head + 1n;
      }
    } else if (!s.doneOutOfOrder.has(o) && s.pending.includes(o)) {
      s.doneOutOfOrder.add(o);
    } else {
      // Not handed out by this tracker (its partition was revoked and forgotten), or reported twice.
      return;
    }
    this.inFlightCount--;
  }

  /** Commit points that advanced since the last `markCommitted`. */
  uncommitted(): CommitPoint[] {
    const out: CommitPoint[] = [];
    for (const s of this.entries()) {
      if (s.next !== undefined && s.next !== s.committed) {
        out.push({ topic: s.topic, partition: s.partition, offset: s.next.toString() });
      }
    }
    return out;
  }

  /** Every partition's processed prefix, committed or not (for checkpoints). */
  positions(): CommitPoint[] {
    const out: CommitPoint[] = [];
    for (const s of this.entries()) {
      if (s.next !== undefined) out.push({ topic: s.topic, partition: s.partition, offset: s.next.toString() });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  markCommitted(points: readonly CommitPoint[]): void {
    for (const p of points) this.state(p.topic, p.partition).committed = BigInt(p.offset);
  }

  /** Forgets partitions that were revoked; their in-flight messages no longer count. */
  forget(topic: string, partition: number): void {
    const s = this.get(topic, partition);
    if (s === undefined) return;
    this.inFlightCount -= s.pending.length - s.doneOutOfOrder.size;
    this.topics.get(topic)?.delete(partition);
  }
}
