/**
 * A checkpoint taken between two messages, encoded as its Avro record and decoded again, resumes the
 * pipeline exactly: the second half of a stream run from the checkpoint emits the same metrics windows,
 * snapshots and predictions as an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decodeRecord } from '../../src/codec/avro.js';
import type { RawMessage } from '../../src/codec/decode-operator.js';
import { SCHEMA_NAMES } from '../../src/codec/records.js';
import { isTokrsError } from '../../src/errors.js';
import { captureCheckpoint, capturePartitionCheckpoints, encodeCheckpoint, partitionCheckpointFrom, restoredFrom } from '../../src/state/checkpoint.js';
import { partitionKey } from '../../src/state/partition-state.js';
import { parseTopology } from '../../src/topology/load.js';
import { PipelineState, topologyPipeline, type TopologyOutput } from '../../src/topology/pipeline.js';
import type { SourcePosition } from '../../src/topology/record.js';
import { readReviews } from '../support/data.js';

const topology = parseTopology(
  `
name: resume
seed: 11
source: { topics: [in], format: json }
features: { bits: 16, bigrams: true }
sample: { method: stratified, size: 200 }
model: { optimizer: { type: ftrl } }
train: { learnOn: both, replayEvery: 7, replayBatch: 5 }
evaluate: { reportEvery: 250, reportEveryMs: 0, rollingWindow: 300, fadingFactor: 0.99 }
outputs: { snapshots: { topic: s, everyMessages: 400 } }
`,
  'resume.yaml',
);

const messages: RawMessage[] = readReviews(undefined, 1500).map((r, i) => ({
  topic: 'in',
  partition: 0,
  offset: String(i),
  key: null,
  // Every 10th message unlabelled, so predictions are part of what must match.
  value: Buffer.from(JSON.stringify(i % 10 === 9 ? { text: r.text } : r)),
  timestamp: 1_700_000_000_000 + i * 1000,
  headers: {},
}));

/** Outputs without the fields that depend on the wall clock or on the run. */
function comparable(outputs: TopologyOutput[]): unknown[] {
  return outputs.map((o) => {
    if (o.kind === 'metrics') return { ...o.record, runId: '', throughput: 0, overallThroughput: 0, window: { ...o.record.window, start: 0, end: 0 } };
    if (o.kind === 'snapshot') return { ...o.record, runId: '', createdAt: 0 };
    return o.record;
  });
}

test('resuming from a checkpoint gives the same outputs as an uninterrupted run', async () => {
  const whole = await lastValueFrom(from(messages).pipe(topologyPipeline(topology, { runId: 'a' }), toArray()));

  const cut = 777;
  const state = new PipelineState();
  const positions: SourcePosition[] = [];
  let checkpoint: ReturnType<typeof captureCheckpoint> | undefined;
  let partitionCheckpoints: ReturnType<typeof capturePartitionCheckpoints> = [];
  const first = await lastValueFrom(
    from(messages.slice(0, cut)).pipe(
      topologyPipeline(
        topology,
        {
          runId: 'b',
          done: (p) => {
            positions[0] = { ...p, offset: String(Number(p.offset) + 1) };
            // The moment the last message of the first half is done: as a runner would, between messages.
            if (p.offset === String(cut - 1)) {
              const at = { topology: topology.name, instance: 'x', runId: 'b', version: 1, state, positions, now: 0 };
              checkpoint = captureCheckpoint(at);
              partitionCheckpoints = capturePartitionCheckpoints(at);
            }
          },
        },
        state,
      ),
      toArray(),
    ),
  );
  assert.ok(checkpoint, 'checkpoint taken');
  const encoded = encodeCheckpoint(checkpoint);
  const restored = restoredFrom(decodeRecord(SCHEMA_NAMES.checkpoint, encoded.value, encoded.headers));
  assert.deepEqual(restored.positions, [{ topic: 'in', partition: 0, offset: String(cut) }]);
  // The partition's state (reservoir, evaluator totals) is a record of its own, keyed by partition.
  assert.deepEqual(partitionCheckpoints.map((p) => p.key), [`${topology.name}/partition/in/0`]);
  const encodedPartition = encodeCheckpoint(partitionCheckpoints[0]!.record);
  const partition = partitionCheckpointFrom(decodeRecord(SCHEMA_NAMES.checkpoint, encodedPartition.value, encodedPartition.headers));
  assert.equal(partition.offset, String(cut));
  const partitions = new Map([[partitionKey(partition.topic, partition.partition), partition.state]]);

  const second = await lastValueFrom(
    from(messages.slice(cut)).pipe(topologyPipeline(topology, { runId: 'c', restore: { ...restored, partitions } }), toArray()),
  );
  // The first half ends with its own 'complete' report and a final snapshot, which an uninterrupted run
  // does not have: drop them before comparing.
  const firstWithoutEnd = first.filter(
    (o) => !(o.kind === 'metrics' && o.report.trigger === 'complete') && !(o.kind === 'snapshot' && o.record.version > Math.floor(state.labelled / 400)),
  );
  assert.deepEqual(comparable([...firstWithoutEnd, ...second]), comparable(whole));
  console.log(
    `checkpoint records: process ${encoded.value.length} bytes (2^16-bucket FTRL model), partition ${encodedPartition.value.length} bytes (stratified reservoir of 200)`,
  );
});

test('a checkpoint of a pipeline that learned but whose learner is gone is refused, not written without its model', async () => {
  const state = new PipelineState();
  await lastValueFrom(from(messages.slice(0, 50)).pipe(topologyPipeline(topology, { runId: 'd' }, state), toArray()));
  // The pipeline has completed: its learner is detached.
  assert.equal(state.learner.current, undefined);
  assert.ok(state.labelled > 0);
  assert.throws(
    () => captureCheckpoint({ topology: topology.name, instance: 'x', runId: 'd', version: 1, state, positions: [], now: 0 }),
    (e: unknown) => isTokrsError(e, 'TOKRS_ERR_SNAPSHOT') && /learner is not attached/.test(e.message),
  );
  // Nothing learned yet: an empty checkpoint is fine.
  assert.equal(captureCheckpoint({ topology: topology.name, instance: 'x', runId: 'e', version: 1, state: new PipelineState(), positions: [], now: 0 }).model, null);
});
