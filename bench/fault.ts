/**
 * Fault-tolerance figures (issue 8):
 *  1. checkpoint size and time for a 2^20-bucket model with a reservoir of k = 10,000 (no Kafka);
 *  2. throughput of the waimai topology at-least-once vs exactly-once over the same messages;
 *  3. recovery: from `startTopology` to the first processed message when a checkpoint exists.
 * Starts its own broker unless KAFKA_BROKERS is set.   npx tsx bench/fault.ts [--messages 50000]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { decodeRecord } from '../src/codec/avro.js';
import type { RawMessage } from '../src/codec/decode-operator.js';
import { SCHEMA_NAMES } from '../src/codec/records.js';
import { ensureTopics, withAdmin } from '../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../src/kafka/client.js';
import { feedLines } from '../src/kafka/feed.js';
import { LocalBroker } from '../src/kafka/local-broker.js';
import type { CheckpointRecord } from '../src/codec/records.js';
import { captureCheckpoint, capturePartitionCheckpoints, encodeCheckpoint, partitionCheckpointFrom, restoredFrom } from '../src/state/checkpoint.js';
import { partitionKey } from '../src/state/partition-state.js';
import { loadTopology } from '../src/topology/load.js';
import { createPartitionStates, PipelineState, topologyPipeline } from '../src/topology/pipeline.js';
import { startTopology } from '../src/topology/runner.js';
import type { Topology } from '../src/topology/spec.js';
import { intOption, waimaiLines } from './support.js';

const MESSAGES = intOption('messages', 50_000, 1);
const lines = waimaiLines();
const base = loadTopology(new URL('../topologies/waimai-sentiment.yaml', import.meta.url).pathname);
const ms = (t0: number): string => `${(performance.now() - t0).toFixed(0)} ms`;

// 1. Checkpoint of a 2^20-bucket model and a k = 10,000 reservoir, after 12,000 messages.
{
  const t: Topology = { ...base, sample: { ...base.sample, size: 10_000 } };
  const state = new PipelineState();
  let record: ReturnType<typeof captureCheckpoint> | undefined;
  let partitionRecord: CheckpointRecord | undefined;
  let captureMs = 0;
  const messages: RawMessage[] = Array.from({ length: 12_000 }, (_, i) => ({
    topic: 'in', partition: 0, offset: String(i), key: null, value: Buffer.from(lines[i % lines.length]!), timestamp: i, headers: {},
  }));
  await lastValueFrom(
    from(messages).pipe(
      topologyPipeline(t, {
        runId: 'bench',
        done: (p) => {
          if (p.offset !== String(messages.length - 1)) return;
          const t0 = performance.now();
          const at = { topology: t.name, instance: 'bench', runId: 'bench', version: 1, state, positions: [p], now: Date.now() };
          record = captureCheckpoint(at);
          partitionRecord = capturePartitionCheckpoints(at)[0]?.record;
          captureMs = performance.now() - t0;
        },
      }, state),
    ),
    { defaultValue: undefined },
  );
  const t1 = performance.now();
  const encoded = encodeCheckpoint(record!);
  const encodedPartition = encodeCheckpoint(partitionRecord!);
  const encodeMs = performance.now() - t1;
  const t2 = performance.now();
  restoredFrom(decodeRecord(SCHEMA_NAMES.checkpoint, encoded.value, encoded.headers));
  const partition = partitionCheckpointFrom(decodeRecord(SCHEMA_NAMES.checkpoint, encodedPartition.value, encodedPartition.headers));
  createPartitionStates(t).install(partitionKey(partition.topic, partition.partition), partition.state);
  const decodeMs = performance.now() - t2;
  const mb = (b: number | undefined): string => `${((b ?? 0) / 1e6).toFixed(2)} MB`;
  console.log(`checkpoint, 2^20 buckets (${base.model.optimizer.type}), reservoir k = ${state.sampler?.size} in one partition:`);
  console.log(
    `  process record ${mb(encoded.value.length)} (model ${mb(record!.model?.length)}, evaluator ${mb(record!.evaluator?.length)}), partition record ${mb(encodedPartition.value.length)} (reservoir and totals)`,
  );
  console.log(`  capture ${captureMs.toFixed(0)} ms, Avro encode ${encodeMs.toFixed(0)} ms, decode + restore-ready ${decodeMs.toFixed(0)} ms`);
}

// 2 and 3 need a broker.
const env = parseBrokers(process.env.KAFKA_BROKERS ?? '');
const broker = env.length > 0 ? undefined : await LocalBroker.start({ dataDir: mkdtempSync(join(tmpdir(), 'tokrs-bench-fault-')) });
const kafka = createKafka({ brokers: env.length > 0 ? env : [broker!.bootstrap], level: 'nothing' });
try {
  const suffix = Date.now().toString(36);
  const topic = `bench-fault-${suffix}`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  await feedLines(kafka, Array.from({ length: MESSAGES }, (_, i) => lines[i % lines.length]!), { topic, format: 'json', jsonInput: true });
  const rates: Record<string, number> = {};
  for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
    const name = `bench-${guarantee}-${suffix}`;
    const t: Topology = {
      ...base,
      name,
      guarantee,
      source: { ...base.source, topics: [topic], group: `${name}-g` },
      checkpoint: { topic: `${name}.state`, everyMessages: 5000, everyMs: 5000 },
      outputs: { ...base.outputs, metrics: { topic: `${name}.metrics` }, snapshots: { topic: `${name}.snapshots`, everyMessages: 10_000 }, predictions: null, deadLetters: { topic: `${name}.dlq` } },
    };
    const run = await startTopology(t, { kafka, idleExitMs: 3000 });
    let first = 0;
    let last = 0;
    const poll = setInterval(() => {
      if (first === 0 && run.state.seen > 0) first = performance.now();
      if (run.state.seen >= MESSAGES && last === 0) last = performance.now();
    }, 1);
    const summary = await run.finished;
    clearInterval(poll);
    rates[guarantee] = MESSAGES / ((last - first) / 1000);
    console.log(`${guarantee}: ${summary.seen} messages, ${Math.round(rates[guarantee]!)} msg/s, ${summary.checkpoints} checkpoints`);
    if (guarantee === 'exactly-once') {
      // 3. Recovery: a new run of the same instance restores the checkpoint and goes on.
      await feedLines(kafka, lines.slice(0, 2000), { topic, format: 'json', jsonInput: true });
      const t0 = performance.now();
      const again = await startTopology(t, { kafka, idleExitMs: 3000 });
      const restoredAt = performance.now() - t0;
      const seenBefore = again.state.seen;
      while (again.state.seen === seenBefore) await new Promise((r) => setTimeout(r, 5));
      console.log(`recovery: checkpoint ${again.restored?.version} restored in ${restoredAt.toFixed(0)} ms; first message processed ${ms(t0)} after start`);
      await again.stop();
    }
  }
  console.log(`exactly-once / at-least-once throughput: ${(rates['exactly-once']! / rates['at-least-once']!).toFixed(2)}`);
} finally {
  await broker?.stop({ deleteData: true });
}
