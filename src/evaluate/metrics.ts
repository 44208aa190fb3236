import { configError, ERROR_CODES, TokrsError } from '../errors.js';
import type { ClassMetrics, ClassificationMetrics, ConfusionMatrixData } from './report.js';

/** One scored message: what it was, what the model said, and the probability it gave the truth. */
export interface Observation {
  readonly yTrue: string;
  readonly yPred: string;
  /** Probability the model gave to `yTrue` (for log-loss); observations without it do not count there. */
  readonly pTrue?: number;
  /** Default 1. */
  readonly weight?: number;
}

/**
 * River's metric interface: `update` adds an observation, `revert` removes one added before (so a window
 * can slide), `get` reads the current value. `scale(f)` multiplies every accumulated weight by f, which
 * is all a fading factor needs. `fresh()` gives an empty metric with the same settings.
 */
export interface Metric<V> {
  update(o: Observation): void;
  revert(o: Observation): void;
  scale(factor: number): void;
  get(): V;
  fresh(): Metric<V>;
}

/**
 * A metric whose whole state can be read out as plain JSON-able data and put back, so that a restored
 * metric gives bit-identical figures: the accumulated floats are stored as they are, never recomputed
 * (a recomputation would add in another order and round differently).
 */
export interface Snapshottable<S> {
  snapshot(): S;
  restore(snapshot: S): void;
}

export function isSnapshottable(m: unknown): m is Snapshottable<unknown> {
  return typeof (m as Partial<Snapshottable<unknown>>)?.snapshot === 'function' && typeof (m as Partial<Snapshottable<unknown>>).restore === 'function';
}

/** `what` must be..., for every malformed snapshot field: the caller can only start fresh or fix the checkpoint. */
export function metricSnapshotError(message: string): TokrsError {
  return new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore evaluator state: ${message}`);
}

const isNumberArray = (a: unknown, length?: number): a is number[] =>
  Array.isArray(a) && (length === undefined || a.length === length) && a.every((x) => typeof x === 'number' && Number.isFinite(x));

export function checkFinite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw metricSnapshotError(`${what} must be a finite number, got ${String(value)}`);
  return value;
}

export interface ConfusionMatrixSnapshot {
  /** In order of first appearance (the order of `perClass`). */
  readonly labels: readonly string[];
  /** Row-major K×K cells. */
  readonly cells: readonly number[];
  readonly rowSums: readonly number[];
  readonly colSums: readonly number[];
  readonly total: number;
  readonly diagonal: number;
}

export interface LogLossSnapshot {
  readonly sum: number;
  readonly weight: number;
}

export interface ClassificationSummarySnapshot {
  readonly confusion: ConfusionMatrixSnapshot;
  readonly logLoss: LogLossSnapshot;
}

/** Below this fraction of the largest sum held, a sum is rounding residue (see ConfusionMatrix.snapResidues). */
const RESOLUTION = 1e-12;

const weightOf = (o: Observation): number => {
  const w = o.weight ?? 1;
  if (!(w >= 0) || !Number.isFinite(w)) throw configError(`metric observation weight must be a finite number >= 0, got ${String(w)}`);
  return w;
};

/**
 * Weighted confusion matrix with online label discovery: rows are true labels, columns predictions.
 * Keeps row, column and diagonal sums so that accuracy, kappa and per-class figures are O(K) to read.
 */
export class ConfusionMatrix implements Metric<ConfusionMatrixData>, Snapshottable<ConfusionMatrixSnapshot> {
  readonly labels: string[] = [];
  private readonly index = new Map<string, number>();
  private cells: Float64Array[] = [];
  rowSums: Float64Array = new Float64Array(0);
  colSums: Float64Array = new Float64Array(0);
  total = 0;
  diagonal = 0;
  /** The largest total since the sums were last empty: the scale of their rounding residues (snapResidues). */
  private peak = 0;

  update(o: Observation): void {
    this.add(o, weightOf(o));
  }

  revert(o: Observation): void {
    this.add(o, -weightOf(o));
  }

  private add(o: Observation, w: number): void {
    const i = this.indexOf(o.yTrue);
    const j = this.indexOf(o.yPred);
    this.cells[i][j] += w;
    this.rowSums[i] += w;
    this.colSums[j] += w;
    this.total += w;
    if (i === j) this.diagonal += w;
    if (this.total > this.peak) this.peak = this.total;
    if (w < 0) this.snapResidues(i, j);
  }

  /**
   * After a revert, what exact arithmetic makes zero must read as exactly zero: floating-point subtraction of
   * fractional weights leaves residues (~1e-16 of the sums), and a label whose row and column are not
   * exactly zero stays active, a phantom class in the macro averages. With weights >= 0, a row or column
   * sum of zero means every cell in it is zero. The tolerance is relative to the largest total the sums have
   * held since they were last empty (`peak`): rounding leaves residues of a few ulps of that, while weights
   * above it (1e-13 alone, or 1e-4 next to a departed 1e6) are kept. A weight below 1e-12 of the peak is
   * lost to rounding in these sums anyway.
   */
  private snapResidues(i: number, j: number): void {
    const tiny = RESOLUTION * this.peak;
    if (Math.abs(this.total) <= tiny) {
      this.clear();
      return;
    }
    if (Math.abs(this.rowSums[i]) <= tiny) {
      this.rowSums[i] = 0;
      this.cells[i].fill(0);
    }
    if (Math.abs(this.colSums[j]) <= tiny) {
      this.colSums[j] = 0;
      for (const row of this.cells) row[j] = 0;
    }
    if (Math.abs(this.cells[i][j]) <= tiny) this.cells[i][j] = 0;
    if (Math.abs(this.diagonal) <= tiny) this.diagonal = 0;
  }

  /** Adds every cell of `other` (e.g. the matrices of several partitions into one), labels matched by name. */
  addAll(other: ConfusionMatrix): void {
    for (let i = 0; i < other.labels.length; i++) {
      for (let j = 0; j < other.labels.length; j++) {
        const w = other.cells[i]![j]!;
        if (w !== 0) this.add({ yTrue: other.labels[i]!, yPred: other.labels[j]! }, w);
      }
    }
  }

  private clear(): void {
    for (const row of this.cells) row.fill(0);
    this.rowSums.fill(0);
    this.colSums.fill(0);
    this.total = 0;
    this.diagonal = 0;
    this.peak = 0;
  }

  scale(f: number): void {
    for (const row of this.cells) for (let j = 0; j < row.length; j++) row[j] *= f;
    for (let k = 0; k < this.rowSums.length; k++) {
      this.rowSums[k] *= f;
      this.colSums[k] *= f;
    }
    this.total *= f;
    this.diagonal *= f;
    this.peak *= f;
  }

  cell(i: number, j: number): number {
    return this.cells[i][j];
  }

  private indexOf(label: string): number {
    const known = this.index.get(label);
    if (known !== undefined) return known;
    const k = this.labels.length;
    this.labels.push(label);
    this.index.set(label, k);
    const n = k + 1;
    this.cells = this.cells.map((row) => grow(row, n));
    this.cells.push(new Float64Array(n));
    this.rowSums = grow(this.rowSums, n);
    this.colSums = grow(this.colSums, n);
    return k;
  }

  /** Indices of labels that occur in the current window (as truth or prediction). */
  active(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.labels.length; k++) if (this.rowSums[k] > 0 || this.colSums[k] > 0) out.push(k);
    return out;
  }

  get(): ConfusionMatrixData {
    const act = this.active();
    return { labels: act.map((k) => this.labels[k]), matrix: act.map((i) => act.map((j) => this.cells[i][j])) };
  }

  fresh(): ConfusionMatrix {
    return new ConfusionMatrix();
  }

  snapshot(): ConfusionMatrixSnapshot {
    return {
      labels: this.labels.slice(),
      cells: this.cells.flatMap((row) => Array.from(row)),
      rowSums: Array.from(this.rowSums),
      colSums: Array.from(this.colSums),
      total: this.total,
      diagonal: this.diagonal,
    };
  }

  restore(snapshot: ConfusionMatrixSnapshot): void {
    const labels: unknown = snapshot?.labels;
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string') || new Set(labels).size !== labels.length) {
      throw metricSnapshotError('confusion matrix labels must be distinct strings');
    }
    const k = labels.length;
    if (!isNumberArray(snapshot.cells, k * k) || !isNumberArray(snapshot.rowSums, k) || !isNumberArray(snapshot.colSums, k)) {
      throw metricSnapshotError(`confusion matrix with ${k} labels needs ${k * k} finite cells and ${k} row and column sums`);
    }
    const total = checkFinite(snapshot.total, 'confusion matrix total');
    const diagonal = checkFinite(snapshot.diagonal, 'confusion matrix diagonal');
    this.labels.length = 0;
    this.index.clear();
    for (const label of labels as string[]) {
      this.index.set(label, this.labels.length);
      this.labels.push(label);
    }
    this.cells = Array.from({ length: k }, (_, i) => Float64Array.from(snapshot.cells.slice(i * k, (i + 1) * k)));
    this.rowSums = Float64Array.from(snapshot.rowSums);
    this.colSums = Float64Array.from(snapshot.colSums);
    this.total = total;
    this.diagonal = diagonal;
    this.peak = Math.abs(total);
  }
}

function grow(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
const f1Of = (p: number, r: number): number => (p + r > 0 ? (2 * p * r) / (p + r) : 0);

/** Per-class precision, recall, F1 and support, for the labels in the current window. */
export function perClass(cm: ConfusionMatrix): ClassMetrics[] {
  return cm.active().map((k) => {
    const tp = cm.cell(k, k);
    const precision = ratio(tp, cm.colSums[k]);
    const recall = ratio(tp, cm.rowSums[k]);
    return { label: cm.labels[k], precision, recall, f1: f1Of(precision, recall), support: cm.rowSums[k] };
  });
}

export function accuracyOf(cm: ConfusionMatrix): number {
  return ratio(cm.diagonal, cm.total);
}

/** Unweighted mean over labels present in the window (as truth or prediction), like scikit-learn. */
export function macroOf(cm: ConfusionMatrix, field: 'precision' | 'recall' | 'f1'): number {
  const pc = perClass(cm);
  return pc.length === 0 ? 0 : pc.reduce((s, c) => s + c[field], 0) / pc.length;
}

/** Micro F1 from global TP/FP/FN; for single-label classification it equals accuracy. */
export function microF1Of(cm: ConfusionMatrix): number {
  const p = ratio(cm.diagonal, cm.total);
  return f1Of(p, p);
}

export function weightedF1Of(cm: ConfusionMatrix): number {
  return ratio(perClass(cm).reduce((s, c) => s + c.support * c.f1, 0), cm.total);
}

/** Cohen 1960: (p_o - p_e) / (1 - p_e), p_e = sum_k row_k col_k / n^2; 0 when p_e = 1 or n = 0. */
export function kappaOf(cm: ConfusionMatrix): number {
  const n = cm.total;
  if (!(n > 0)) return 0;
  let pe = 0;
  for (let k = 0; k < cm.labels.length; k++) pe += cm.rowSums[k] * cm.colSums[k];
  pe /= n * n;
  const po = cm.diagonal / n;
  return 1 - pe > 1e-15 ? (po - pe) / (1 - pe) : 0;
}

/** Base for metrics that read a confusion matrix they own (River does the same). */
abstract class ConfusionMetric<V> implements Metric<V> {
  protected readonly cm = new ConfusionMatrix();
  update(o: Observation): void {
    this.cm.update(o);
  }
  revert(o: Observation): void {
    this.cm.revert(o);
  }
  scale(f: number): void {
    this.cm.scale(f);
  }
  abstract get(): V;
  abstract fresh(): Metric<V>;
}

export class Accuracy extends ConfusionMetric<number> {
  get(): number {
    return accuracyOf(this.cm);
  }
  fresh(): Accuracy {
    return new Accuracy();
  }
}

export class MacroF1 extends ConfusionMetric<number> {
  get(): number {
    return macroOf(this.cm, 'f1');
  }
  fresh(): MacroF1 {
    return new MacroF1();
  }
}

export class MicroF1 extends ConfusionMetric<number> {
  get(): number {
    return microF1Of(this.cm);
  }
  fresh(): MicroF1 {
    return new MicroF1();
  }
}

export class WeightedF1 extends ConfusionMetric<number> {
  get(): number {
    return weightedF1Of(this.cm);
  }
  fresh(): WeightedF1 {
    return new WeightedF1();
  }
}

export class CohenKappa extends ConfusionMetric<number> {
  get(): number {
    return kappaOf(this.cm);
  }
  fresh(): CohenKappa {
    return new CohenKappa();
  }
}

/** Precision, recall or F1 of one class. */
export class ClassScore extends ConfusionMetric<number> {
  constructor(
    readonly label: string,
    readonly field: 'precision' | 'recall' | 'f1',
  ) {
    super();
  }
  get(): number {
    return perClass(this.cm).find((c) => c.label === this.label)?.[this.field] ?? 0;
  }
  fresh(): ClassScore {
    return new ClassScore(this.label, this.field);
  }
}

export const Precision = (label: string): ClassScore => new ClassScore(label, 'precision');
export const Recall = (label: string): ClassScore => new ClassScore(label, 'recall');
export const F1 = (label: string): ClassScore => new ClassScore(label, 'f1');

/** Mean of -ln(max(pTrue, 1e-15)) over observations that carry `pTrue`. */
export class LogLoss implements Metric<number>, Snapshottable<LogLossSnapshot> {
  private sum = 0;
  private weight = 0;
  /** The largest weight since it was last zero (see ConfusionMatrix.snapResidues). */
  private peak = 0;
  update(o: Observation): void {
    if (o.pTrue === undefined) return;
    const w = weightOf(o);
    this.sum += w * logLossTerm(o.pTrue);
    this.weight += w;
    if (this.weight > this.peak) this.peak = this.weight;
  }
  revert(o: Observation): void {
    if (o.pTrue === undefined) return;
    const w = weightOf(o);
    this.sum -= w * logLossTerm(o.pTrue);
    this.weight -= w;
    if (this.weight <= RESOLUTION * this.peak) this.sum = this.weight = this.peak = 0;
  }
  scale(f: number): void {
    this.sum *= f;
    this.weight *= f;
    this.peak *= f;
  }
  addAll(other: LogLoss): void {
    this.sum += other.sum;
    this.weight += other.weight;
    if (this.weight > this.peak) this.peak = this.weight;
  }
  get(): number {
    return ratio(this.sum, this.weight);
  }
  fresh(): LogLoss {
    return new LogLoss();
  }
  snapshot(): LogLossSnapshot {
    return { sum: this.sum, weight: this.weight };
  }
  restore(snapshot: LogLossSnapshot): void {
    const sum = checkFinite(snapshot?.sum, 'log-loss sum');
    const weight = checkFinite(snapshot.weight, 'log-loss weight');
    this.sum = sum;
    this.weight = weight;
    this.peak = Math.abs(weight);
  }
}

export function logLossTerm(p: number): number {
  return -Math.log(Math.min(1, Math.max(p, 1e-15)));
}

/** Every figure of `ClassificationMetrics` from one confusion matrix and one log-loss; what reports use. */
export class ClassificationSummary implements Metric<ClassificationMetrics>, Snapshottable<ClassificationSummarySnapshot> {
  readonly cm = new ConfusionMatrix();
  private readonly logLoss = new LogLoss();
  update(o: Observation): void {
    this.cm.update(o);
    this.logLoss.update(o);
  }
  revert(o: Observation): void {
    this.cm.revert(o);
    this.logLoss.revert(o);
  }
  /** Adds `other`'s observations, as if they had been observed here too (summing partitions' totals). */
  addAll(other: ClassificationSummary): void {
    this.cm.addAll(other.cm);
    this.logLoss.addAll(other.logLoss);
  }
  scale(f: number): void {
    this.cm.scale(f);
    this.logLoss.scale(f);
  }
  get(): ClassificationMetrics {
    const cm = this.cm;
    const pc = perClass(cm);
    const mean = (field: 'precision' | 'recall' | 'f1'): number => (pc.length === 0 ? 0 : pc.reduce((s, c) => s + c[field], 0) / pc.length);
    return {
      count: cm.total,
      accuracy: accuracyOf(cm),
      macroF1: mean('f1'),
      microF1: microF1Of(cm),
      weightedF1: ratio(pc.reduce((s, c) => s + c.support * c.f1, 0), cm.total),
      macroPrecision: mean('precision'),
      macroRecall: mean('recall'),
      logLoss: this.logLoss.get(),
      kappa: kappaOf(cm),
      perClass: pc,
      confusion: cm.get(),
    };
  }
  fresh(): ClassificationSummary {
    return new ClassificationSummary();
  }
  snapshot(): ClassificationSummarySnapshot {
    return { confusion: this.cm.snapshot(), logLoss: this.logLoss.snapshot() };
  }
  /** All or nothing: a malformed snapshot throws before anything is changed. */
  restore(snapshot: ClassificationSummarySnapshot): void {
    if (snapshot === null || typeof snapshot !== 'object') throw metricSnapshotError(`summary must be an object, got ${String(snapshot)}`);
    const cm = new ConfusionMatrix();
    cm.restore(snapshot.confusion);
    const logLoss = new LogLoss();
    logLoss.restore(snapshot.logLoss);
    this.cm.restore(snapshot.confusion);
    this.logLoss.restore(snapshot.logLoss);
  }
}
