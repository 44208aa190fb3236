/**
 * State kept per source partition, so that it moves with its partition when the consumer group rebalances:
 * the partition's sampler (with its PRNG) and the evaluator's totals over the messages scored from it. The
 * topology-wide figures are their sum (totals) and their exact merge (uniform reservoirs), whichever
 * processes hold the partitions. The model is not per partition: each process learns on the partitions it
 * holds (see runner.ts for how models are averaged across processes).
 */
import { ERROR_CODES, TokrsError } from '../errors.js';
import { ClassificationSummary, type ClassificationSummarySnapshot, type Observation } from '../evaluate/metrics.js';
import { PartitionedSampler } from '../sample/partitioned.js';
import type { Random } from '../sample/random.js';
import type { Sampler } from '../sample/sampler.js';
import type { Example, SourcePosition } from '../topology/record.js';
import { decodeSamplerSnapshot, encodeSamplerSnapshot } from './example-codec.js';

/** Version of the bytes `encode` writes; `install` reads only this one. */
export const PARTITION_STATE_FORMAT = 1;

/** The key of messages that come from no Kafka partition (a file replay): one "partition" for all of them. */
export const NO_PARTITION = '';

export const partitionKey = (topic: string, partition: number): string => `${topic}/${partition}`;

export const keyOfSource = (source: SourcePosition | undefined): string =>
  source === undefined ? NO_PARTITION : partitionKey(source.topic, source.partition);

interface Header {
  readonly format: number;
  readonly scored: ClassificationSummarySnapshot;
  /** Byte length of the sampler snapshot that follows the header; 0 when the topology samples nothing. */
  readonly samplerBytes: number;
}

export class PartitionStates {
  readonly sampler: PartitionedSampler<Example>;
  private readonly scored = new Map<string, ClassificationSummary>();
  /** Partitions whose state changed since `takeChanged`: the next checkpoint writes only these. */
  private changed = new Set<string>();

  constructor(
    private readonly createSampler: (key: string) => Sampler<Example>,
    drawRandom: Random,
  ) {
    // A replay draw advances the PRNG of the partition it draws from: without writing that partition again,
    // its committed state would lag, and a process taking it over would go on differently than its owner.
    this.sampler = new PartitionedSampler<Example>(createSampler, drawRandom, (key) => this.changed.add(key));
  }

  offer(key: string, example: Example): void {
    this.changed.add(key);
    this.sampler.offerTo(key, example);
  }

  /** A labelled message of partition `key` was scored. */
  observe(key: string, observation: Observation): void {
    this.changed.add(key);
    this.summaryOf(key).update(observation);
  }

  /** The evaluator's totals over the messages scored from one partition (created empty on first use). */
  summaryOf(key: string): ClassificationSummary {
    let summary = this.scored.get(key);
    if (summary === undefined) {
      summary = new ClassificationSummary();
      this.scored.set(key, summary);
    }
    return summary;
  }

  /** Every partition this process keeps state for. */
  held(): string[] {
    return [...new Set([...this.sampler.partitions(), ...this.scored.keys()])];
  }

  /** The sum of the partitions' totals: what this process's partitions have scored, whoever scored it. */
  totals(): ClassificationSummary {
    const sum = new ClassificationSummary();
    for (const s of this.scored.values()) sum.addAll(s);
    return sum;
  }

  /** Each Kafka partition's totals (for metrics records), in key order. */
  totalsByPartition(): { topic: string; partition: number; summary: ClassificationSummary }[] {
    return [...this.scored]
      .filter(([key]) => key !== NO_PARTITION)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, summary]) => {
        const slash = key.lastIndexOf('/');
        return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)), summary };
      });
  }

  /** Forgets a partition that moved to another process. */
  drop(key: string): void {
    this.sampler.drop(key);
    this.scored.delete(key);
    this.changed.delete(key);
  }

  /** The partitions changed since the last call, and forgets them as changed. */
  takeChanged(): string[] {
    const keys = [...this.changed];
    this.changed = new Set();
    return keys;
  }

  /** One partition's state as bytes: a JSON header (format, totals, sampler length), then the sampler. */
  encode(key: string): Uint8Array {
    const sampler = this.sampler.has(key) ? encodeSamplerSnapshot(this.sampler.part(key).snapshot()) : new Uint8Array(0);
    const header: Header = { format: PARTITION_STATE_FORMAT, scored: this.summaryOf(key).snapshot(), samplerBytes: sampler.length };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(4 + json.length + sampler.length);
    new DataView(out.buffer).setUint32(0, json.length);
    out.set(json, 4);
    out.set(sampler, 4 + json.length);
    return out;
  }

  /** Takes over a partition's state from `encode`'s bytes (committed by its previous owner). */
  install(key: string, bytes: Uint8Array): void {
    const fail = (why: string, cause?: unknown): never => {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore the state of partition ${key}: ${why}`, cause === undefined ? undefined : { cause });
    };
    if (bytes.length < 4) fail(`${bytes.length} bytes is too short`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const jsonLength = view.getUint32(0);
    if (4 + jsonLength > bytes.length) fail(`header of ${jsonLength} bytes runs past the end (${bytes.length} bytes)`);
    let header: Header;
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + jsonLength))) as Header;
    } catch (error) {
      return fail('header is not JSON', error);
    }
    // Valid JSON is not yet a header: `null` would be a TypeError below, not a SNAPSHOT error.
    if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(`header is ${JSON.stringify(header)}, not an object`);
    if (header.format !== PARTITION_STATE_FORMAT) fail(`format ${String(header.format)}; this tokrs reads format ${PARTITION_STATE_FORMAT}`);
    if (4 + jsonLength + header.samplerBytes !== bytes.length) fail(`sampler length ${header.samplerBytes} does not match the ${bytes.length} bytes`);
    // Everything is decoded before anything is replaced: a bad record leaves the current state as it was.
    const summary = new ClassificationSummary();
    summary.restore(header.scored);
    let sampler: Sampler<Example> | undefined;
    if (header.samplerBytes > 0) {
      sampler = this.createSampler(key);
      sampler.restore(decodeSamplerSnapshot(bytes.subarray(4 + jsonLength)));
    }
    if (sampler === undefined) this.sampler.drop(key);
    else this.sampler.install(key, sampler);
    this.scored.set(key, summary);
    this.changed.delete(key);
  }
}
