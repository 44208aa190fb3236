import type { Sampler } from '../sample/sampler.js';
import type { Example } from '../topology/record.js';
import { ClassificationSummary, type Observation } from './metrics.js';
import type { LabelCount, MetricsReport, ReportCounts, WindowedMetrics } from './report.js';
import { Rolling } from './rolling.js';

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
  private readonly startedAt: number;
  private lastReportAt: number;
  private lastReportMessages = 0;
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

  report(trigger: MetricsReport['trigger'], training: TrainingCounts, reservoir?: Sampler<Example>): MetricsReport {
    const now = this.now();
    const intervalMs = now - this.lastReportAt;
    const inInterval = this.messages - this.lastReportMessages;
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
        messagesPerSecond: intervalMs > 0 ? (inInterval * 1000) / intervalMs : 0,
        overallMessagesPerSecond: elapsed > 0 ? (this.messages * 1000) / elapsed : 0,
        intervalMs,
        messagesInInterval: inInterval,
      },
    };
  }
}

function distribution(counts: ReadonlyMap<string, number>): LabelCount[] {
  let total = 0;
  for (const c of counts.values()) total += c;
  return [...counts].map(([label, count]) => ({ label, count, fraction: total > 0 ? count / total : 0 }));
}
