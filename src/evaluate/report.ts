/**
 * The metrics record the `prequential` operator emits, and the Avro schema maps. Plain data: numbers,
 * strings and arrays only (no maps keyed by label, no NaN): every ratio whose denominator is 0 is reported
 * as 0 (scikit-learn's `zero_division=0`), so a record always serialises.
 */
export interface MetricsReport {
  /** Name of the topology step that produced it. */
  readonly step: string;
  /** Report time, ms since the epoch, from the injected clock. */
  readonly timestamp: number;
  /** 1, 2, 3… per subscription, so a consumer can see a gap. */
  readonly sequence: number;
  /** Why this report was emitted. */
  readonly trigger: 'count' | 'time' | 'complete';
  readonly counts: ReportCounts;
  /** Everything since the start of the run (or the restored checkpoint). */
  readonly overall: ClassificationMetrics;
  /** Last `window` scored messages; null when not configured. */
  readonly rolling: WindowedMetrics | null;
  /** Scored messages of the last `windowMs` milliseconds; null when not configured. */
  readonly timeWindow: WindowedMetrics | null;
  /** Every scored message, weighted by factor^age (age in messages); null when not configured. */
  readonly fading: WindowedMetrics | null;
  readonly labels: LabelDistributions;
  readonly throughput: Throughput;
}

export interface ReportCounts {
  /** Messages seen by the operator. */
  readonly messages: number;
  readonly labelled: number;
  readonly unlabelled: number;
  /** Labelled messages that were predicted before being learned from (the first ones, before the model knows any label, are not). */
  readonly scored: number;
  /** Messages handed to the reject callback (bad features, bad label). */
  readonly rejected: number;
  /** Examples the model learned from: stream updates plus replayed ones. */
  readonly learned: number;
  /** Of `learned`, the examples drawn from the reservoir. */
  readonly replayed: number;
  /** Replay mini-batches drawn. */
  readonly replays: number;
  /** Classes the model knows. */
  readonly classes: number;
}

export interface ClassMetrics {
  readonly label: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** (Weighted) number of examples whose true label is this one. */
  readonly support: number;
}

export interface ClassificationMetrics {
  /** (Weighted) number of scored examples the figures are over; for `fading`, the sum of the weights. */
  readonly count: number;
  readonly accuracy: number;
  readonly macroF1: number;
  readonly microF1: number;
  readonly weightedF1: number;
  readonly macroPrecision: number;
  readonly macroRecall: number;
  /** Mean of -ln(max(p(true label), 1e-15)). */
  readonly logLoss: number;
  /** Cohen's kappa: (p_o - p_e) / (1 - p_e); 0 when p_e = 1. */
  readonly kappa: number;
  /** One entry per label seen (as truth or prediction), in order of first appearance. */
  readonly perClass: readonly ClassMetrics[];
  readonly confusion: ConfusionMatrixData;
}

export interface WindowedMetrics extends ClassificationMetrics {
  /** `count` window: messages; `time` window: milliseconds; `fading`: the factor. */
  readonly kind: 'count' | 'time' | 'fading';
  readonly size: number;
}

export interface ConfusionMatrixData {
  /** Row and column labels, same order as `perClass`. */
  readonly labels: readonly string[];
  /** matrix[i][j] = (weighted) count of true label i predicted as j. */
  readonly matrix: readonly (readonly number[])[];
}

export interface LabelCount {
  readonly label: string;
  readonly count: number;
  /** count / total of that distribution (0 when empty). */
  readonly fraction: number;
}

export interface LabelDistributions {
  /** True labels of every labelled message seen. */
  readonly stream: readonly LabelCount[];
  /** Labels of the items currently in the reservoir (empty when there is no reservoir). */
  readonly reservoir: readonly LabelCount[];
  readonly reservoirSize: number;
  /** Items offered to the reservoir so far (its `count`); 0 without one. */
  readonly reservoirSeen: number;
}

export interface Throughput {
  /** Messages per second since the previous report. */
  readonly messagesPerSecond: number;
  /** Messages per second since the subscription started. */
  readonly overallMessagesPerSecond: number;
  readonly intervalMs: number;
  readonly messagesInInterval: number;
}
