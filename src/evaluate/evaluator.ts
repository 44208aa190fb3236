import type { SampleView } from '../sample/partitioned.js';
import type { Example } from '../topology/record.js';
import { checkFinite, ClassificationSummary, metricSnapshotError, type ClassificationSummarySnapshot, type Observation } from './metrics.js';
import type { LabelCount, MetricsReport, ReportCounts, WindowedMetrics } from './report.js';
import { Rolling, type RollingSnapshot } from './rolling.js';

/** Bumped whenever `EvaluatorSnapshot` changes shape; `restore` reads only its own version. */
export const EVALUATOR_SNAPSHOT_VERSION = 1;

/**
 * Everything that influences an evaluator's future reports, as plain JSON-able data (numbers, strings,
 * arrays, objects; no NaN or Infinity). Clock-derived figures (timestamp, throughput rates) are not
 * carried: they describe the process that emits the report.
 */
export interface EvaluatorSnapshot {
  readonly kind: 'evaluator';
  readonly version: number;
  readonly messages: number;
  readonly labelled: number;
  readonly unlabelled: number;
  readonly scored: number;
  readonly rejected: number;
  /** Sequence number of the last report, so the next one continues it. */
  readonly sequence: number;
  readonly lastReportMessages: number;
  /** True labels seen, in order of first appearance (the order reports list them in). */
  readonly streamLabels: readonly (readonly [string, number])[];
  readonly overall: ClassificationSummarySnapshot;
  /** null where the window is not configured. */
  readonly rolling: RollingSnapshot<ClassificationSummarySnapshot> | null;
  readonly timeWindow: RollingSnapshot<ClassificationSummarySnapshot> | null;
  readonly fading: RollingSnapshot<ClassificationSummarySnapshot> | null;
}

export interface EvaluatorOptions {
  /** Step name carried by every report. */
  readonly step?: string;
  /** Size of the count window; 0 or undefined: none. */
  readonly rollingWindow?: number;
  /** Length of the time window in ms; 0 or undefined: none. */
  readonly timeWindowMs?: number;
  /** Fading factor in (0, 1]; undefined: none. */
  readonly fadingFactor?: number;
  /** Clock (ms). The prequential operator passes its scheduler's `now`. */
  readonly now: () => number;
}

/** Counters the training side adds to a report (see `TrainingPolicy`). */
export interface TrainingCounts {
  readonly learned: number;
  readonly replayed: number;
  readonly replays: number;
  readonly classes: number;
}

/**
 * Prequential bookkeeping without RxJS: overall, rolling, time-window and fading metrics, message counts,
 * the stream's label distribution and throughput between reports. `observe` takes one scored message;
 * `report` reads everything into a `MetricsReport`.
 */
export class Evaluator {
  readonly overall = new ClassificationSummary();
  readonly rolling: Rolling<ReturnType<ClassificationSummary['get']>> | undefined;
  readonly timeWindow: Rolling<ReturnType<ClassificationSummary['get']>> | undefined;
  readonly fading: Rolling<ReturnType<ClassificationSummary['get']>> | undefined;
  private readonly step: string;
  private readonly now: () => number;
  private readonly streamLabels = new Map<string, number>();
  private startedAt: number;
  private lastReportAt: number;
  private lastReportMessages = 0;
  /** `messages` when this process's clock started (non-zero after `restore`): throughput counts only what this process did. */
  private messagesAtStart = 0;
  private sequence = 0;
  messages = 0;
  labelled = 0;
  unlabelled = 0;
  scored = 0;
  rejected = 0;

  constructor(options: EvaluatorOptions) {
    this.step = options.step ?? 'evaluate';
    this.now = options.now;
    const now = this.now;
    if (options.rollingWindow) this.rolling = new Rolling(new ClassificationSummary(), { kind: 'count', size: options.rollingWindow });
    if (options.timeWindowMs) this.timeWindow = new Rolling(new ClassificationSummary(), { kind: 'time', ms: options.timeWindowMs, now });
    if (options.fadingFactor !== undefined) this.fading = new Rolling(new ClassificationSummary(), { kind: 'fading', factor: options.fadingFactor });
    this.startedAt = this.lastReportAt = now();
  }

  /** A message arrived (labelled or not). */
  seen(label: string | undefined): void {
    this.messages++;
    if (label === undefined) {
      this.unlabelled++;
      return;
    }
    this.labelled++;
    this.streamLabels.set(label, (this.streamLabels.get(label) ?? 0) + 1);
  }

  reject(): void {
    this.rejected++;
  }

  /** A labelled message was predicted before being learned from. */
  observe(o: Observation): void {
    this.scored++;
    this.overall.update(o);
    this.rolling?.update(o);
    this.timeWindow?.update(o);
    this.fading?.update(o);
  }

  report(trigger: MetricsReport['trigger'], training: TrainingCounts, reservoir?: SampleView<Example>): MetricsReport {
    const now = this.now();
    const intervalMs = now - this.lastReportAt;
    const inInterval = this.messages - this.lastReportMessages;
    // Rates count what this process handled: after a restore, not the messages before it.
    const handledInInterval = this.messages - Math.max(this.lastReportMessages, this.messagesAtStart);
    const elapsed = now - this.startedAt;
    this.lastReportAt = now;
    this.lastReportMessages = this.messages;
    const counts: ReportCounts = {
      messages: this.messages,
      labelled: this.labelled,
      unlabelled: this.unlabelled,
      scored: this.scored,
      rejected: this.rejected,
      ...training,
    };
    const reservoirItems = reservoir?.sample() ?? [];
    const reservoirLabels = new Map<string, number>();
    for (const item of reservoirItems) reservoirLabels.set(item.label, (reservoirLabels.get(item.label) ?? 0) + 1);
    const windowed = (r: Rolling<ReturnType<ClassificationSummary['get']>> | undefined): WindowedMetrics | null => {
      if (r === undefined) return null;
      const w = r.window;
      return { kind: w.kind, size: w.kind === 'count' ? w.size : w.kind === 'time' ? w.ms : w.factor, ...r.get() };
    };
    return {
      step: this.step,
      timestamp: now,
      sequence: ++this.sequence,
      trigger,
      counts,
      overall: this.overall.get(),
      rolling: windowed(this.rolling),
      timeWindow: windowed(this.timeWindow),
      fading: windowed(this.fading),
      labels: {
        stream: distribution(this.streamLabels),
        reservoir: distribution(reservoirLabels),
        reservoirSize: reservoirItems.length,
        reservoirSeen: reservoir?.count ?? 0,
      },
      throughput: {
        messagesPerSecond: intervalMs > 0 ? (handledInInterval * 1000) / intervalMs : 0,
        overallMessagesPerSecond: elapsed > 0 ? ((this.messages - this.messagesAtStart) * 1000) / elapsed : 0,
        intervalMs,
        messagesInInterval: inInterval,
      },
    };
  }

  /** The evaluator's state for a checkpoint; `restore` on an evaluator with the same settings continues it. */
  snapshot(): EvaluatorSnapshot {
    const window = (r: Rolling<unknown> | undefined): RollingSnapshot<ClassificationSummarySnapshot> | null =>
      r === undefined ? null : (r.snapshot() as RollingSnapshot<ClassificationSummarySnapshot>);
    return {
      kind: 'evaluator',
      version: EVALUATOR_SNAPSHOT_VERSION,
      messages: this.messages,
      labelled: this.labelled,
      unlabelled: this.unlabelled,
      scored: this.scored,
      rejected: this.rejected,
      sequence: this.sequence,
      lastReportMessages: this.lastReportMessages,
      streamLabels: [...this.streamLabels],
      overall: this.overall.snapshot(),
      rolling: window(this.rolling),
      timeWindow: window(this.timeWindow),
      fading: window(this.fading),
    };
  }

  /**
   * Continues from `snapshot`: every later report equals the one an uninterrupted evaluator would have
   * made after the same observations, except `timestamp` and the throughput rates, which restart with this
   * evaluator's clock. The evaluator must be configured with the same windows (count size, time ms, fading
   * factor) as the one snapshotted. Checks everything before changing anything; a snapshot of another kind,
   * version or window set throws `TokrsError` SNAPSHOT.
   *
   * ```ts
   * const saved = JSON.stringify(evaluator.snapshot());
   * const resumed = new Evaluator({ rollingWindow: 1000, now: Date.now });
   * resumed.restore(JSON.parse(saved)); // resumed.report(...) continues the sequence and every window
   * ```
   */
  restore(snapshot: EvaluatorSnapshot): void {
    if (snapshot === null || typeof snapshot !== 'object' || snapshot.kind !== 'evaluator') {
      throw metricSnapshotError(`not an evaluator snapshot (kind ${String((snapshot as { kind?: unknown } | null)?.kind)})`);
    }
    if (snapshot.version !== EVALUATOR_SNAPSHOT_VERSION) {
      throw metricSnapshotError(`snapshot version ${String(snapshot.version)}; this build reads version ${EVALUATOR_SNAPSHOT_VERSION}`);
    }
    const count = (key: 'messages' | 'labelled' | 'unlabelled' | 'scored' | 'rejected' | 'sequence' | 'lastReportMessages'): number => {
      const v = snapshot[key];
      if (!Number.isSafeInteger(v) || v < 0) throw metricSnapshotError(`${key} must be a non-negative integer, got ${String(v)}`);
      return v;
    };
    const counts = {
      messages: count('messages'),
      labelled: count('labelled'),
      unlabelled: count('unlabelled'),
      scored: count('scored'),
      rejected: count('rejected'),
      sequence: count('sequence'),
      lastReportMessages: count('lastReportMessages'),
    };
    if (!Array.isArray(snapshot.streamLabels)) throw metricSnapshotError('streamLabels must be an array of [label, count]');
    const streamLabels = new Map<string, number>();
    for (const entry of snapshot.streamLabels) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || streamLabels.has(entry[0])) throw metricSnapshotError('streamLabels must hold distinct [label, count] pairs');
      streamLabels.set(entry[0], checkFinite(entry[1], `stream count of ${entry[0]}`));
    }
    // Restore into fresh copies first, so a bad window leaves this evaluator as it was.
    const overall = this.overall.fresh();
    overall.restore(snapshot.overall);
    const windows = (['rolling', 'timeWindow', 'fading'] as const).map((name) => {
      const mine = this[name];
      const stored = snapshot[name];
      if ((mine === undefined) !== (stored === null || stored === undefined)) {
        throw metricSnapshotError(
          `the snapshot ${stored == null ? 'has no' : 'has a'} ${name} window and this evaluator ${mine === undefined ? 'has none' : 'has one'}: restore with the same evaluate settings, or start the evaluator fresh`,
        );
      }
      if (mine === undefined || stored == null) return undefined;
      mine.fresh().restore(stored);
      return stored;
    });
    this.overall.restore(snapshot.overall);
    this.rolling?.restore(windows[0]!);
    this.timeWindow?.restore(windows[1]!);
    this.fading?.restore(windows[2]!);
    this.messages = counts.messages;
    this.labelled = counts.labelled;
    this.unlabelled = counts.unlabelled;
    this.scored = counts.scored;
    this.rejected = counts.rejected;
    this.sequence = counts.sequence;
    this.lastReportMessages = counts.lastReportMessages;
    this.streamLabels.clear();
    for (const [label, n] of streamLabels) this.streamLabels.set(label, n);
    this.startedAt = this.lastReportAt = this.now();
    this.messagesAtStart = this.messages;
  }
}

function distribution(counts: ReadonlyMap<string, number>): LabelCount[] {
  let total = 0;
  for (const c of counts.values()) total += c;
  return [...counts].map(([label, count]) => ({ label, count, fraction: total > 0 ? count / total : 0 }));
}
