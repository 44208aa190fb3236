/** What exactly-once runs committed, as the scale-out tests read it back: metrics and partition states. */
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES, type MetricsRecord } from '../../src/codec/records.js';
import { ClassificationSummary } from '../../src/evaluate/metrics.js';
import type { Kafka } from '../../src/kafka/client.js';
import assert from 'node:assert/strict';
import { withAdmin } from '../../src/kafka/admin.js';
import { checkpointKey, partitionCheckpointFrom, readLatestCheckpoint, readLatestCheckpoints, restoredFrom, type PartitionCheckpoint, type RestoredState } from '../../src/state/checkpoint.js';
import { partitionKey, type PartitionStates } from '../../src/state/partition-state.js';
import { createPartitionStates } from '../../src/topology/pipeline.js';
import type { Topology } from '../../src/topology/spec.js';
import { uniqueName } from './kafka.js';

/** Every metrics record of `topic` a read_committed reader sees, once `done` says it has them all. */
export async function readCommittedMetrics(kafka: Kafka, topic: string, done: (records: MetricsRecord[]) => boolean): Promise<MetricsRecord[]> {
  const records: MetricsRecord[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('metrics-reader'), readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void records.push(decodeRecord(SCHEMA_NAMES.metrics, message.value!, message.headers)) });
  const deadline = Date.now() + 30_000;
  while (!done(records) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  // Anything published twice would come right after.
  await new Promise((r) => setTimeout(r, 1000));
  await consumer.disconnect();
  return records;
}

/**
 * The latest committed state of every source partition of `t`, installed into fresh partition states, and
 * the messages they scored in all.
 */
export async function committedPartitionStates(
  kafka: Kafka,
  t: Topology,
): Promise<{ partitions: PartitionCheckpoint[]; states: PartitionStates; scored: number }> {
  const prefix = `${t.name}/partition/`;
  const records = await readLatestCheckpoints(kafka, t.checkpoint!.topic, (key) => key.startsWith(prefix));
  const states = createPartitionStates(t);
  const partitions = [...records.values()].map(partitionCheckpointFrom);
  let scored = 0;
  for (const p of partitions) {
    states.install(partitionKey(p.topic, p.partition), p.state);
    scored += states.summaryOf(partitionKey(p.topic, p.partition)).get().count;
  }
  return { partitions, states, scored };
}

/** Messages the processes' own evaluators scored, from their checkpoints. */
export function scoredByProcesses(checkpoints: readonly RestoredState[]): number {
  return checkpoints.reduce((sum, s) => {
    const overall = new ClassificationSummary();
    overall.restore(s.evaluator!.overall);
    return sum + overall.get().count;
  }, 0);
}

/** Each instance's latest committed process checkpoint of `t`, in the order of `instances`; fails if one has none. */
export async function committedProcessStates(kafka: Kafka, t: Topology, instances: readonly string[]): Promise<RestoredState[]> {
  return Promise.all(
    instances.map(async (instance) => {
      const record = await readLatestCheckpoint(kafka, t.checkpoint!.topic, checkpointKey(t.name, instance));
      assert.ok(record, `a committed checkpoint of ${instance}`);
      return restoredFrom(record);
    }),
  );
}

/** Messages of `partitions` of `topic` beyond the group offsets `committedAt` (from admin.fetchOffsets) held. */
export async function messagesPastCommit(
  kafka: Kafka,
  topic: string,
  committedAt: readonly { partitions: readonly { partition: number; offset: string }[] }[],
  partitions: readonly number[],
): Promise<number> {
  const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  return partitions.reduce((sum, p) => {
    const at = committedAt[0]!.partitions.find((x) => x.partition === p)!;
    return sum + Number(ends.find((e) => e.partition === p)!.high) - Math.max(0, Number(at.offset));
  }, 0);
}
