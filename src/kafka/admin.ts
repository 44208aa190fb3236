/** Admin helpers: topics with partitions and configs, leaders, offsets by timestamp. */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { Kafka } from './client.js';

export interface TopicSpec {
  topic: string;
  partitions?: number;
  /** Topic configs such as `cleanup.policy: compact`. */
  configs?: Record<string, string>;
}

/** Runs `body` with a connected admin client and always disconnects it. */
export async function withAdmin<T>(kafka: Kafka, body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the topics that do not exist yet and waits for their leaders. Existing topics are left as they
 * are (their partition count is not changed), so calling it at every start is safe.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((spec) => !existing.has(spec.topic))
    .map((spec) => ({
      topic: spec.topic,
      numPartitions: spec.partitions ?? 1,
      replicationFactor: -1,
      configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return [];
  // Another process may create the same topic between listTopics and createTopics; that is fine.
  await admin.createTopics({ topics: missing, waitForLeaders: true });
  await waitForLeaders(admin, missing.map((t) => t.topic));
  return missing.map((t) => t.topic);
}

/** Waits until every partition of the topics has a leader (metadata can lag behind createTopics). */
export async function waitForLeaders(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const ready = metadata.topics.every(
        (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
      );
      if (ready) return;
    } catch {
      // The topic may not be in the metadata yet; try again below.
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface PartitionOffset {
  partition: number;
  offset: string;
}

/**
 * For each partition, the first offset whose timestamp is at or after `timestamp` (ms), or the end
 * offset where no message is that recent.
 */
export async function offsetsAtTime(admin: Admin, topic: string, timestamp: number): Promise<PartitionOffset[]> {
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
  const ends = await admin.fetchTopicOffsets(topic);
  const endOf = new Map(ends.map((e) => [e.partition, e.high]));
  return found
    .map((f) => ({ partition: f.partition, offset: f.offset === '-1' ? (endOf.get(f.partition) ?? '0') : f.offset }))
    .sort((a, b) => a.partition - b.partition);
}

/** Low and high watermarks of every partition, sorted by partition. */
export async function topicRange(
  admin: Admin,
  topic: string,
): Promise<{ partition: number; low: string; high: string }[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.map((o) => ({ partition: o.partition, low: o.low, high: o.high })).sort((a, b) => a.partition - b.partition);
}
