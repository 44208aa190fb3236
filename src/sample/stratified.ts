/**
 * Stratified reservoir: one uniform reservoir per label, so a rare class is not crowded out of the sample
 * (and of the learner's replay) by a frequent one.
 */
import type { Random } from './random.js';
import type { Sampler, SamplerSnapshot } from './sampler.js';
import { UniformReservoir } from './uniform.js';
import { drawWithReplacement } from './draw.js';
import { checkCapacity, checkSnapshot, extraArray, extraNumber, sampleError, snapshotError } from './validate.js';

const VERSION = 1;

export interface StratifiedOptions<T> {
  /** `per-label`: each label keeps up to `capacity` items. `shared`: `capacity` in total, split equally. */
  readonly mode: 'per-label' | 'shared';
  readonly capacity: number;
  readonly label: (item: T) => string;
  /** Labels beyond this are an error (memory is capacity × labels in `per-label` mode). Default 1000. */
  readonly maxLabels?: number;
}

interface Stratum<T> {
  readonly label: string;
  readonly reservoir: UniformReservoir<T>;
}

/**
 * In `shared` mode the total is split equally among the labels seen so far: the i-th label (in order of
 * first appearance, from 0) gets ceil((total - i) / L) of the total with L labels. This never grows as L
 * grows, so a new label only ever shrinks the others, which `UniformReservoir.shrinkTo` does exactly
 * (a uniform subset of a uniform sample is uniform); growing would need items already dropped.
 *
 * @example
 *   const s = new StratifiedReservoir<Example>({ mode: 'shared', capacity: 1000, label: (e) => e.label }, random);
 */
export class StratifiedReservoir<T> implements Sampler<T> {
  readonly kind = 'stratified';
  readonly mode: 'per-label' | 'shared';
  private readonly total: number;
  private readonly maxLabels: number;
  private readonly label: (item: T) => string;
  private strata = new Map<string, Stratum<T>>();
  private order: Stratum<T>[] = [];
  private n = 0;

  constructor(
    options: StratifiedOptions<T>,
    private readonly random: Random,
  ) {
    if (options.mode !== 'per-label' && options.mode !== 'shared') {
      throw sampleError(`sample.stratified.mode must be "per-label" or "shared", got ${JSON.stringify(options.mode)}`);
    }
    this.mode = options.mode;
    this.total = checkCapacity('sample.size', options.capacity);
    this.maxLabels = checkCapacity('sample.stratified.maxLabels', options.maxLabels ?? 1000);
    this.label = options.label;
  }

  /** Per-label: capacity × labels seen so far; shared: the total. */
  get capacity(): number {
    return this.mode === 'shared' ? this.total : this.total * this.order.length;
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    let size = 0;
    for (const s of this.order) size += s.reservoir.size;
    return size;
  }

  /** Labels in order of first appearance, with each one's stream count, capacity and sample size. */
  labels(): { label: string; count: number; capacity: number; size: number }[] {
    return this.order.map(({ label, reservoir: r }) => ({ label, count: r.count, capacity: r.capacity, size: r.size }));
  }

  /** The current sample of one label (empty for a label not seen). */
  sampleOf(label: string): T[] {
    return this.strata.get(label)?.reservoir.sample() ?? [];
  }

  offer(item: T): void {
    const label = this.label(item);
    let stratum = this.strata.get(label);
    if (stratum === undefined) stratum = this.addLabel(label);
    this.n++;
    stratum.reservoir.offer(item);
  }

  private addLabel(label: unknown): Stratum<T> {
    if (typeof label !== 'string') {
      throw sampleError(`stratified sample label must be a string, got ${String(label)} for item ${this.n + 1}`);
    }
    const labels = this.order.length + 1;
    if (labels > this.maxLabels) {
      throw sampleError(
        `stratified sample saw more than sample.stratified.maxLabels = ${this.maxLabels} labels (new label ${JSON.stringify(label)}); raise maxLabels`,
      );
    }
    if (this.mode === 'shared' && labels > this.total) {
      throw sampleError(
        `stratified sample.size ${this.total} is shared equally among labels, and label ${JSON.stringify(label)} is the ${labels}th: raise sample.size or use mode "per-label"`,
      );
    }
    if (this.mode === 'shared') {
      this.order.forEach((s, i) => s.reservoir.shrinkTo(shareOf(this.total, labels, i)));
    }
    const capacity = this.mode === 'shared' ? shareOf(this.total, labels, labels - 1) : this.total;
    const stratum = { label, reservoir: new UniformReservoir<T>(capacity, this.random) };
    this.strata.set(label, stratum);
    this.order.push(stratum);
    return stratum;
  }

  sample(): T[] {
    return this.order.flatMap((s) => s.reservoir.sample());
  }

  /** Uniform with replacement over the whole sample, which is already balanced across labels. */
  drawBatch(size: number): T[] {
    return drawWithReplacement(this.sample(), size, this.random);
  }

  snapshot(): SamplerSnapshot<T> {
    const states = this.order.map((s) => ({ label: s.label, ...s.reservoir.getState() }));
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: states.flatMap((s) => s.items),
      random: this.random.snapshot(),
      extra: {
        mode: this.mode,
        capacity: this.total,
        strata: states.map(({ items, ...rest }) => ({ ...rest, size: items.length })),
      },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const capacity = extraNumber(snapshot, 'capacity');
    if (capacity !== this.total || snapshot.extra.mode !== this.mode) {
      throw snapshotError(
        `snapshot is stratified ${String(snapshot.extra.mode)} with size ${capacity}, this sampler is ${this.mode} with size ${this.total}`,
      );
    }
    this.random.restore(snapshot.random);
    const strata = new Map<string, Stratum<T>>();
    const order: Stratum<T>[] = [];
    let at = 0;
    for (const raw of extraArray(snapshot, 'strata')) {
      const s = raw as { label: string; capacity: number; count: number; w: number; next: number; size: number };
      if (typeof s?.label !== 'string' || !Number.isSafeInteger(s.size) || at + s.size > snapshot.items.length) {
        throw snapshotError(`stratified snapshot has a malformed stratum`);
      }
      const items = snapshot.items.slice(at, at + s.size);
      at += s.size;
      const reservoir = UniformReservoir.fromState<T>({ ...s, items }, this.random);
      const stratum = { label: s.label, reservoir };
      strata.set(s.label, stratum);
      order.push(stratum);
    }
    if (at !== snapshot.items.length) throw snapshotError(`stratified snapshot items do not match its strata`);
    this.strata = strata;
    this.order = order;
    this.n = snapshot.count;
  }
}

/** The i-th of L labels' share of `total`: ceil((total - i) / L), non-increasing in L. */
function shareOf(total: number, labels: number, i: number): number {
  return Math.ceil((total - i) / labels);
}
