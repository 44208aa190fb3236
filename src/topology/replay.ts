/**
 * Replay and backtesting: runs one or more topologies over a fixed range of their source topics (or a
 * JSON Lines file) and reports what they would have scored. The pipeline is the one `tokrs run` uses;
 * what differs is the input and the clock:
 *
 * - the range is resolved once at start and read by a consumer of its own that never commits, so the
 *   live consumer group is not disturbed, and the replay stops by itself at the range's end;
 * - messages of all partitions are merged in (timestamp, partition, offset) order, PRNGs are seeded from
 *   the topology, and time-triggered reports run on event time (EventTimeScheduler): the same range and
 *   topology give byte-identical metrics records and the same report every time;
 * - several topologies (A/B) read the range once and each runs its own pipeline over the same messages.
 *
 * ```ts
 * const report = await replay({ topologies: [t], input: 'reviews.jsonl' });
 * report.runs[0].final.accuracy // 0.87…
 * ```
 */
import { createHash } from 'node:crypto';
import { Subject, type Subscription } from 'rxjs';
import type { RawMessage } from '../codec/decode-operator.js';
import { configError } from '../errors.js';
import { ensureTopics, withAdmin } from '../kafka/admin.js';
import type { Kafka } from '../kafka/client.js';
import { KafkaSink } from '../kafka/sink.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { Progress } from '../observe/progress.js';
import { createTokenizer, type TextTokenizer } from '../tokenize/create-tokenizer.js';
import { EventTimeScheduler } from './event-time.js';
import { PipelineState, topologyPipeline, type TopologyOutput } from './pipeline.js';
import { describeBound, parseRangeBound, rangeSize, resolveKafkaRange, resolveLineRange, type PartitionRange, type RangeBound } from './range.js';
import { openFileSource, readKafkaRange } from './replay-source.js';
import { seriesPoint, summarize, type ReplayReport, type ReplayRun, type SeriesPoint } from './replay-report.js';
import type { SourcePosition } from './record.js';
import { createOutputEncoder, type OutputEncoder } from './outputs.js';
import { outputTopics } from './runner.js';
import type { Topology } from './spec.js';

export interface ReplayOptions {
  /** One topology, or several for an A/B comparison (they must read the same source topics). */
  readonly topologies: readonly Topology[];
  /** `earliest` (default), `latest`, an ISO 8601 time, or `partition:offset,…`. */
  readonly from?: string | RangeBound;
  /** `latest` (default), `earliest`, an ISO 8601 time, or `partition:offset,…` (exclusive). */
  readonly to?: string | RangeBound;
  /** Replay this JSON Lines file instead of the source topics (no broker needed unless publishing). */
  readonly input?: string;
  /** Needed to read topics and to publish. */
  readonly kafka?: Kafka;
  /** false: report only. Otherwise outputs go to the topologies' output topics, renamed `${prefix}${topic}`. Default: publish when `kafka` is given. */
  readonly publish?: false | { readonly prefix?: string };
  /** Run id carried by every output record; by default derived from the topology hash and the range, so a replay is reproducible. */
  readonly runId?: string;
  readonly logger?: Logger;
  /** Show progress on stderr (a bar on a terminal, lines otherwise), or on the given stream. */
  readonly progress?: boolean | NonNullable<ConstructorParameters<typeof Progress>[0]['stream']>;
  /** Every output of topology `index`, as it is produced. */
  readonly onOutput?: (index: number, output: TopologyOutput) => void;
  /** Wall clock, only for the report's timing fields. */
  readonly now?: () => number;
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** sha256 of the validated topology (defaults filled in), so two files meaning the same thing hash alike. */
export function topologyHash(t: Topology): string {
  return createHash('sha256').update(canonicalJson(t)).digest('hex');
}

function bound(value: string | RangeBound | undefined, flag: '--from' | '--to', fallback: RangeBound): RangeBound {
  if (value === undefined) return fallback;
  return typeof value === 'string' ? parseRangeBound(value, flag) : value;
}

interface Lane {
  readonly index: number;
  readonly topology: Topology;
  readonly hash: string;
  readonly runId: string;
  readonly state: PipelineState;
  readonly input: Subject<RawMessage>;
  readonly series: SeriesPoint[];
  scheduler?: EventTimeScheduler;
  subscription?: Subscription;
  sink?: KafkaSink;
  encoder?: OutputEncoder;
  failure?: unknown;
  completed: boolean;
}

/** Runs the replay; resolves with the report (write it with `writeReport`). */
export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const log = options.logger ?? silentLogger;
  const topologies = options.topologies;
  if (topologies.length === 0) throw configError('replay needs at least one topology');
  const from = bound(options.from, '--from', { kind: 'earliest' });
  const to = bound(options.to, '--to', { kind: 'latest' });
  const sourceTopics = [...topologies[0]!.source.topics].sort();
  if (options.input === undefined) {
    for (const t of topologies.slice(1)) {
      if (canonicalJson([...t.source.topics].sort()) !== canonicalJson(sourceTopics)) {
        throw configError(
          `A/B replay reads the range once, so every topology must read the same source topics: ${topologies[0]!.name} reads ${sourceTopics.join(', ')}, ${t.name} reads ${t.source.topics.join(', ')}`,
        );
      }
    }
  }
  const publish = options.publish ?? (options.kafka === undefined ? false : {});
  if (publish !== false && options.kafka === undefined) throw configError('publishing replay outputs needs Kafka brokers (or pass --no-publish)');

  // 1. The range, resolved once.
  let ranges: PartitionRange[];
  let chunks: () => AsyncGenerator<RawMessage[]>;
  let source: ReplayReport['source'];
  if (options.input !== undefined) {
    const timestampField = topologies[0]!.source.fields.timestamp;
    const file = await openFileSource(options.input, timestampField);
    const { start, end } = resolveLineRange(file.lines, from, to, (time) => file.firstAtOrAfter(time));
    ranges = [{ topic: file.topic, partition: 0, start: String(start), end: String(end) }];
    chunks = () => file.read(start, end);
    source = { kind: 'file', topics: [file.topic], file: file.topic.slice('file:'.length), sha256: file.sha256, lines: file.lines };
  } else {
    const kafka = options.kafka;
    if (kafka === undefined) throw configError('replaying topics needs Kafka brokers; pass --brokers, or --input <file.jsonl> to replay a file');
    ranges = await withAdmin(kafka, (admin) => resolveKafkaRange(admin, sourceTopics, from, to));
    chunks = () => readKafkaRange(kafka, ranges);
    source = { kind: 'kafka', topics: sourceTopics };
  }
  const total = rangeSize(ranges);
  const rangeKey = canonicalJson({ source: source.kind === 'file' ? { file: source.file, sha256: source.sha256 } : source, ranges });
  log.info({ step: 'replay', from: describeBound(from), to: describeBound(to), ranges, total }, 'range resolved');

  // 2. One lane (pipeline, clock, sink) per topology.
  const tokenizers = new Map<string, TextTokenizer>();
  const lanes: Lane[] = topologies.map((topology, index) => {
    const hash = topologyHash(topology);
    const derived = `replay-${createHash('sha256').update(`${hash}\n${rangeKey}`).digest('hex').slice(0, 16)}`;
    const twin = topologies.some((other, j) => j !== index && topologyHash(other) === hash);
    // The same topology twice (e.g. to check determinism side by side) still needs two run ids.
    const runId =
      options.runId === undefined
        ? twin ? `${derived}-${index + 1}` : derived
        : topologies.length === 1 ? options.runId : `${options.runId}-${index + 1}`;
    return { index, topology, hash, runId, state: new PipelineState(), input: new Subject<RawMessage>(), series: [], completed: false };
  });
  const positions = new Map<string, SourcePosition>();
  const positionList = (): SourcePosition[] =>
    [...positions.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));

  if (publish !== false) {
    const kafka = options.kafka!;
    const specs = new Map(lanes.flatMap((l) => outputTopics(l.topology).map((s) => [`${publish.prefix ?? ''}${s.topic}`, s] as const)));
    await withAdmin(kafka, (admin) => ensureTopics(admin, [...specs].map(([topic, s]) => ({ ...s, topic }))));
    for (const lane of lanes) {
      lane.encoder = await createOutputEncoder(lane.topology, { topicPrefix: publish.prefix ?? '' });
      lane.sink = new KafkaSink({ kafka, compression: lane.topology.outputs.compression });
      await lane.sink.connect();
    }
  }

  const start = (lane: Lane, firstTimestamp: number): void => {
    const t = lane.topology;
    const scheduler = new EventTimeScheduler(firstTimestamp);
    lane.scheduler = scheduler;
    const tokenizeKey = canonicalJson(t.tokenize);
    let tokenizer = tokenizers.get(tokenizeKey);
    if (tokenizer === undefined) tokenizers.set(tokenizeKey, (tokenizer = createTokenizer(t.tokenize)));
    lane.subscription = lane.input
      .pipe(topologyPipeline(t, { runId: lane.runId, scheduler, positions: positionList, tokenizer }, lane.state))
      .subscribe({
        next(output) {
          if (output.kind === 'metrics') lane.series.push(seriesPoint(output.report));
          if (lane.sink !== undefined && lane.encoder !== undefined) {
            // The encoder puts the --output-prefix before the topic (and registers that topic's subject).
            const record = lane.encoder.encode(output);
            // Object.assign, not a leading spread: see withTokenized in record.ts (this runs once per output).
            if (record !== undefined) lane.sink.send(Object.assign({}, record, { headers: Object.assign({}, record.headers, { 'tokrs-run-id': lane.runId }) }));
          }
          options.onOutput?.(lane.index, output);
        },
        error: (error: unknown) => (lane.failure = error),
        complete: () => (lane.completed = true),
      });
  };

  // 3. Feed the merged messages to every lane, advancing each lane's event-time clock first.
  const progress =
    options.progress === undefined || options.progress === false
      ? undefined
      : new Progress({ total, label: 'replay', ...(options.progress === true ? {} : { stream: options.progress }) });
  let done = 0;
  let firstTimestamp: number | undefined;
  let lastTimestamp: number | undefined;
  let sinceFlush = 0;
  const check = (): void => {
    for (const lane of lanes) if (lane.failure !== undefined) throw lane.failure;
  };
  try {
    for await (const chunk of chunks()) {
      for (const m of chunk) {
        if (firstTimestamp === undefined) {
          firstTimestamp = m.timestamp;
          for (const lane of lanes) start(lane, m.timestamp);
        }
        lastTimestamp = m.timestamp;
        // Timers due by this event's time fire before it, with the positions of the messages before it.
        for (const lane of lanes) lane.scheduler!.advanceTo(m.timestamp);
        positions.set(`${m.topic}\u0000${m.partition}`, { topic: m.topic, partition: m.partition, offset: String(BigInt(m.offset) + 1n) });
        for (const lane of lanes) lane.input.next(m);
        done++;
      }
      check();
      progress?.update(done);
      sinceFlush += chunk.length;
      if (sinceFlush >= 5000) {
        // Bounds the producer's buffer: the replay reads faster than Kafka acknowledges.
        sinceFlush = 0;
        for (const lane of lanes) await lane.sink?.flush();
      } else {
        // Lets the sink's linger timer and the consumer's fetches run between chunks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    progress?.finish();
    if (firstTimestamp === undefined) for (const lane of lanes) start(lane, 0);
    for (const lane of lanes) lane.input.complete();
    check();
    for (const lane of lanes) await lane.sink?.flush();
  } finally {
    for (const lane of lanes) {
      lane.subscription?.unsubscribe();
      await lane.sink?.close().catch(() => undefined);
    }
  }

  const finishedAt = now();
  const runs: ReplayRun[] = lanes.map((lane) =>
    summarize({
      topology: lane.topology,
      hash: lane.hash,
      runId: lane.runId,
      state: lane.state,
      series: lane.series,
      published: lane.sink === undefined ? {} : Object.fromEntries([...lane.sink.sent].sort(([a], [b]) => (a < b ? -1 : 1))),
    }),
  );
  const report: ReplayReport = {
    format: 'tokrs-replay-report/1',
    source,
    range: {
      from: describeBound(from),
      to: describeBound(to),
      partitions: ranges.map((r) => ({ ...r, messages: Number(BigInt(r.end) - BigInt(r.start)) })),
      messages: total,
      replayed: done,
      firstTimestamp: firstTimestamp ?? null,
      lastTimestamp: lastTimestamp ?? null,
    },
    publish: publish === false ? null : { prefix: publish.prefix ?? '' },
    runs,
    timing: {
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - startedAt,
      messagesPerSecond: finishedAt > startedAt ? Math.round((done * 1000) / (finishedAt - startedAt)) : null,
    },
  };
  log.info({ step: 'replay', messages: done, durationMs: report.timing.durationMs, runs: runs.map((r) => ({ topology: r.topology, runId: r.runId, final: { accuracy: r.final.accuracy, macroF1: r.final.macroF1 } })) }, 'replay finished');
  return report;
}
