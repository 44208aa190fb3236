/**
 * What the dashboard remembers about one topology: the recent metrics points, consumer-lag samples, the
 * latest snapshot and the dead letters by reason. Pure (no Kafka, no HTTP): the watcher feeds it decoded
 * records, the server turns it into JSON for the page.
 */
import type { DeadLetterRecord, MetricsRecord, ModelSnapshotRecord, RollingMetricsRecord } from '../../codec/records.js';

/** One metrics record as the page plots it. Times are ms since the epoch. */
export interface MetricsPoint {
  runId: string;
  sequence: number;
  time: number;
  /** The rolling count window's metrics (the overall ones before the first window fills). */
  accuracy: number | null;
  macroF1: number | null;
  logLoss: number | null;
  overallAccuracy: number | null;
  overallMacroF1: number | null;
  /** Messages per second over the last report interval. */
  throughput: number;
  seen: number;
  labelled: number;
  window: string | null;
}

export interface LabelMix {
  reservoir: Record<string, number>;
  stream: Record<string, number>;
  reservoirSize: number;
  reservoirCapacity: number;
  method: string | null;
}

export interface LagPoint {
  time: number;
  /** Messages in the source topics beyond the topology group's committed offsets. */
  lag: number;
}

export interface SnapshotSummary {
  runId: string;
  version: number;
  modelKind: string;
  labels: string[];
  learned: number;
  metrics: Record<string, number>;
  createdAt: number;
  dim: number;
}

export interface DeadLetterSummary {
  byReason: Record<string, number>;
  recent: { time: number; errorCode: string; errorMessage: string; step: string | null; source: string | null }[];
}

export type WatchStatus =
  | { state: 'connecting' }
  | { state: 'waiting'; detail: string }
  | { state: 'live' }
  | { state: 'reconnecting'; detail: string; since: number };

/** Everything the page needs to draw one topology from scratch. */
export interface TopologyView {
  topology: string;
  description: string | null;
  labels: string[];
  points: MetricsPoint[];
  lag: LagPoint[];
  labelMix: LabelMix | null;
  snapshot: SnapshotSummary | null;
  deadLetters: DeadLetterSummary;
  status: WatchStatus;
  /** Latest metrics record's counts and run, for the header. */
  latest: { runId: string; seen: number; labelled: number; deadLetters: Record<string, number>; tokensPerMessage: number | null } | null;
}

/** A change the page applies to what it holds (sent over SSE). */
export type ViewUpdate =
  | { type: 'metrics'; point: MetricsPoint; labelMix: LabelMix | null; latest: NonNullable<TopologyView['latest']> }
  | { type: 'lag'; point: LagPoint }
  | { type: 'snapshot'; snapshot: SnapshotSummary }
  | { type: 'deadLetter'; deadLetters: DeadLetterSummary }
  | { type: 'status'; status: WatchStatus };

/** The rolling count window of a metrics record ("last-N"), else the first rolling window, else none. */
export function primaryWindow(record: MetricsRecord): RollingMetricsRecord | undefined {
  const windows = record.rolling ?? [];
  return windows.find((w) => w.kind === 'count') ?? windows[0];
}

/** The point the page plots for a metrics record; the dashboard test recomputes it from the topic with this. */
export function metricsPoint(record: MetricsRecord): MetricsPoint {
  const w = primaryWindow(record);
  const rolled = w !== undefined && w.count > 0;
  return {
    runId: record.runId,
    sequence: record.sequence,
    time: record.window.end,
    accuracy: rolled ? (w.accuracy ?? null) : (record.accuracy ?? null),
    macroF1: rolled ? (w.macroF1 ?? null) : (record.macroF1 ?? null),
    logLoss: rolled ? (w.logLoss ?? null) : (record.logLoss ?? null),
    overallAccuracy: record.accuracy ?? null,
    overallMacroF1: record.macroF1 ?? null,
    throughput: record.throughput,
    seen: record.counts.seen,
    labelled: record.counts.labelled,
    window: rolled ? w.window : null,
  };
}

export interface HistoryOptions {
  maxPoints?: number;
  maxLagPoints?: number;
  maxRecentDeadLetters?: number;
}

export class TopologyHistory {
  private readonly points: MetricsPoint[] = [];
  private readonly seenPoints = new Set<string>();
  private readonly lagPoints: LagPoint[] = [];
  private labelMix: LabelMix | null = null;
  private latest: TopologyView['latest'] = null;
  private snapshotSummary: SnapshotSummary | null = null;
  /** The latest snapshot record itself, with its weights, for the "try it" box. */
  snapshotRecord: ModelSnapshotRecord | undefined;
  private readonly deadByReason: Record<string, number> = {};
  private readonly recentDead: DeadLetterSummary['recent'] = [];
  private readonly labels = new Set<string>();
  status: WatchStatus = { state: 'connecting' };
  private readonly maxPoints: number;
  private readonly maxLagPoints: number;
  private readonly maxRecentDead: number;

  constructor(
    readonly topology: string,
    readonly description: string | null = null,
    options: HistoryOptions = {},
  ) {
    this.maxPoints = options.maxPoints ?? 5000;
    this.maxLagPoints = options.maxLagPoints ?? 2000;
    this.maxRecentDead = options.maxRecentDeadLetters ?? 20;
  }

  /** Adds a metrics record; undefined for a duplicate (the same run and sequence, re-read after a retry). */
  addMetrics(record: MetricsRecord): ViewUpdate | undefined {
    const key = `${record.runId}\u0000${record.sequence}`;
    if (this.seenPoints.has(key)) return undefined;
    this.seenPoints.add(key);
    const point = metricsPoint(record);
    // Records of one partition arrive in order; several partitions (or runs) may interleave: keep time order.
    let i = this.points.length;
    while (i > 0 && this.points[i - 1]!.time > point.time) i--;
    this.points.splice(i, 0, point);
    if (this.points.length > this.maxPoints) {
      const dropped = this.points.splice(0, this.points.length - this.maxPoints);
      for (const d of dropped) this.seenPoints.delete(`${d.runId}\u0000${d.sequence}`);
    }
    for (const c of record.perClass ?? []) this.labels.add(c.label);
    const r = record.reservoir;
    this.labelMix = {
      reservoir: { ...(r?.labels ?? {}) },
      stream: { ...(record.streamLabels ?? {}) },
      reservoirSize: r?.size ?? 0,
      reservoirCapacity: r?.capacity ?? 0,
      method: r?.method ?? null,
    };
    for (const label of Object.keys(this.labelMix.stream)) this.labels.add(label);
    this.latest = {
      runId: record.runId,
      seen: record.counts.seen,
      labelled: record.counts.labelled,
      deadLetters: { ...(record.counts.deadLetters ?? {}) },
      tokensPerMessage: record.tokensPerMessage ?? null,
    };
    return { type: 'metrics', point, labelMix: this.labelMix, latest: this.latest };
  }

  addLag(point: LagPoint): ViewUpdate {
    this.lagPoints.push(point);
    if (this.lagPoints.length > this.maxLagPoints) this.lagPoints.splice(0, this.lagPoints.length - this.maxLagPoints);
    return { type: 'lag', point };
  }

  /** Keeps the snapshot when it is newer than the one held (by creation time, then version). */
  addSnapshot(record: ModelSnapshotRecord): ViewUpdate | undefined {
    const held = this.snapshotRecord;
    if (held !== undefined && (held.createdAt > record.createdAt || (held.createdAt === record.createdAt && held.version >= record.version))) {
      return undefined;
    }
    this.snapshotRecord = record;
    for (const label of record.labels) this.labels.add(label);
    this.snapshotSummary = {
      runId: record.runId,
      version: record.version,
      modelKind: record.modelKind,
      labels: [...record.labels],
      learned: record.learned ?? 0,
      metrics: { ...(record.metrics ?? {}) },
      createdAt: record.createdAt,
      dim: record.dim,
    };
    return { type: 'snapshot', snapshot: this.snapshotSummary };
  }

  addDeadLetter(record: DeadLetterRecord): ViewUpdate {
    this.deadByReason[record.errorCode] = (this.deadByReason[record.errorCode] ?? 0) + 1;
    this.recentDead.push({
      time: record.time,
      errorCode: record.errorCode,
      errorMessage: record.errorMessage.slice(0, 300),
      step: record.step ?? null,
      source: record.sourceTopic == null ? null : `${record.sourceTopic}/${record.sourcePartition ?? '?'}@${record.sourceOffset ?? '?'}`,
    });
    if (this.recentDead.length > this.maxRecentDead) this.recentDead.shift();
    return { type: 'deadLetter', deadLetters: this.deadLetterSummary() };
  }

  setStatus(status: WatchStatus): ViewUpdate | undefined {
    if (JSON.stringify(status) === JSON.stringify(this.status)) return undefined;
    // Keep the first time a reconnect started, so the page can say for how long.
    if (status.state === 'reconnecting' && this.status.state === 'reconnecting') return undefined;
    this.status = status;
    return { type: 'status', status };
  }

  private deadLetterSummary(): DeadLetterSummary {
    return { byReason: { ...this.deadByReason }, recent: [...this.recentDead] };
  }

  view(): TopologyView {
    return {
      topology: this.topology,
      description: this.description,
      labels: [...this.labels],
      points: [...this.points],
      lag: [...this.lagPoints],
      labelMix: this.labelMix,
      snapshot: this.snapshotSummary,
      deadLetters: this.deadLetterSummary(),
      status: this.status,
      latest: this.latest,
    };
  }
}
