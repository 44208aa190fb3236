import { configError } from '../errors.js';
import { ObservationQueue } from './observation-queue.js';
import { checkFinite, isSnapshottable, metricSnapshotError, type Metric, type Observation, type Snapshottable } from './metrics.js';

/** How a `Rolling` metric forgets. */
export type RollingWindow =
  /** The last `size` observations. */
  | { readonly kind: 'count'; readonly size: number }
  /** Observations made during the last `ms` milliseconds of `now()` (those with time > now - ms). */
  | { readonly kind: 'time'; readonly ms: number; readonly now: () => number }
  /** Every observation, the one i updates ago weighted factor^i (0 < factor <= 1). */
  | { readonly kind: 'fading'; readonly factor: number };

/**
 * Observations as columns, oldest first: a 60 s window of a busy stream holds tens of thousands, and a label
 * table with indices is several times smaller than one JSON object per observation.
 */
export interface ObservationColumns {
  readonly labels: readonly string[];
  readonly yTrue: readonly number[];
  readonly yPred: readonly number[];
  /** null: the observation had no `pTrue`. */
  readonly pTrue: readonly (number | null)[];
  /** null: weight absent (1). */
  readonly weight: readonly (number | null)[];
}

/** What a `Rolling` needs to continue exactly: the inner metric's accumulated state and what can still leave it. */
export interface RollingSnapshot<S = unknown> {
  readonly kind: RollingWindow['kind'];
  /** Window size, ms or factor, checked against the window of the metric restored into. */
  readonly size: number;
  /** Observations still in a count or time window (empty for fading). */
  readonly queue: ObservationColumns;
  /** Clock time each queued observation was made at (time window only). */
  readonly times: readonly number[];
  /** Observations so far (fading only). */
  readonly faded: number;
  readonly inner: S;
}

export function windowSize(w: RollingWindow): number {
  return w.kind === 'count' ? w.size : w.kind === 'time' ? w.ms : w.factor;
}

export function toColumns(observations: readonly Observation[]): ObservationColumns {
  const labels: string[] = [];
  const index = new Map<string, number>();
  const id = (label: string): number => {
    let i = index.get(label);
    if (i === undefined) {
      i = labels.length;
      labels.push(label);
      index.set(label, i);
    }
    return i;
  };
  return {
    labels,
    yTrue: observations.map((o) => id(o.yTrue)),
    yPred: observations.map((o) => id(o.yPred)),
    pTrue: observations.map((o) => o.pTrue ?? null),
    weight: observations.map((o) => o.weight ?? null),
  };
}

export function fromColumns(c: ObservationColumns): Observation[] {
  const fail = (what: string): never => {
    throw metricSnapshotError(`window observations: ${what}`);
  };
  if (c === null || typeof c !== 'object') return fail('not an object');
  const { labels, yTrue, yPred, pTrue, weight } = c;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) fail('labels must be strings');
  if (![yTrue, yPred, pTrue, weight].every((a) => Array.isArray(a) && a.length === yTrue.length)) fail('columns must be arrays of one length');
  const label = (i: unknown): string => (Number.isInteger(i) && (i as number) >= 0 && (i as number) < labels.length ? labels[i as number] : fail(`label index ${String(i)} out of range`));
  const out: Observation[] = new Array<Observation>(yTrue.length);
  for (let i = 0; i < yTrue.length; i++) {
    const p = pTrue[i];
    const w = weight[i];
    const o: { yTrue: string; yPred: string; pTrue?: number; weight?: number } = { yTrue: label(yTrue[i]), yPred: label(yPred[i]) };
    if (p !== null) o.pTrue = checkFinite(p, 'pTrue');
    if (w !== null) o.weight = checkFinite(w, 'weight');
    out[i] = o;
  }
  return out;
}

/**
 * Turns any revertible metric into a windowed one (River's `utils.Rolling`), so windows are written once
 * for every metric: count and time windows revert what falls out, the fading factor scales what is kept.
 *
 * ```ts
 * const acc = new Rolling(new Accuracy(), 3);
 * for (const [t, p] of [['a', 'a'], ['a', 'b'], ['b', 'b'], ['b', 'b']]) acc.update({ yTrue: t, yPred: p });
 * acc.get(); // 2/3: the first observation has left the window
 * ```
 */
export class Rolling<V> implements Metric<V> {
  readonly window: RollingWindow;
  private readonly inner: Metric<V>;
  private queue = new ObservationQueue();
  private faded = 0;

  constructor(metric: Metric<V>, window: number | RollingWindow) {
    this.inner = metric;
    this.window = typeof window === 'number' ? { kind: 'count', size: window } : window;
    const w = this.window;
    if (w.kind === 'count' && (!Number.isInteger(w.size) || w.size < 1)) throw configError(`rolling window size must be a positive integer, got ${w.size}`);
    if (w.kind === 'time' && !(w.ms > 0)) throw configError(`rolling time window must be > 0 ms, got ${w.ms}`);
    if (w.kind === 'fading' && !(w.factor > 0 && w.factor <= 1)) throw configError(`fading factor must be in (0, 1], got ${w.factor}`);
  }

  /** Observations currently in a count or time window (for fading, every one so far). */
  get length(): number {
    return this.window.kind === 'fading' ? this.faded : this.queue.length;
  }

  update(o: Observation): void {
    const w = this.window;
    switch (w.kind) {
      case 'fading':
        this.inner.scale(w.factor);
        this.inner.update(o);
        this.faded++;
        return;
      case 'count':
        this.inner.update(o);
        this.queue.push(o);
        if (this.queue.length > w.size) this.inner.revert(this.queue.shift());
        return;
      case 'time': {
        const t = w.now();
        this.inner.update(o);
        this.queue.push(o, t);
        this.evict(t);
        return;
      }
    }
  }

  /** Not supported: a window decides itself what leaves it. */
  revert(): void {
    throw configError('a Rolling metric cannot be reverted: wrap the inner metric instead');
  }

  scale(f: number): void {
    this.inner.scale(f);
  }

  get(): V {
    if (this.window.kind === 'time') this.evict(this.window.now());
    return this.inner.get();
  }

  fresh(): Rolling<V> {
    return new Rolling(this.inner.fresh(), this.window);
  }

  /** Needs an inner metric that is `Snapshottable` (ClassificationSummary, ConfusionMatrix, LogLoss are). */
  snapshot(): RollingSnapshot {
    if (!isSnapshottable(this.inner)) throw configError('this Rolling metric wraps a metric without snapshot()/restore()');
    const w = this.window;
    return {
      kind: w.kind,
      size: windowSize(w),
      queue: this.queue.toColumns(),
      times: w.kind === 'time' ? this.queue.times() : [],
      faded: this.faded,
      inner: this.inner.snapshot(),
    };
  }

  /**
   * Puts back a `snapshot()` of a Rolling with the same window. A time window keeps the stored clock
   * times, so observations leave it when the (injected) clock passes them, as they would have.
   */
  restore(snapshot: RollingSnapshot): void {
    const w = this.window;
    if (snapshot === null || typeof snapshot !== 'object') throw metricSnapshotError(`rolling window must be an object, got ${String(snapshot)}`);
    if (snapshot.kind !== w.kind || snapshot.size !== windowSize(w)) {
      throw metricSnapshotError(
        `snapshot has a ${String(snapshot.kind)} window of ${String(snapshot.size)}, this evaluator a ${w.kind} window of ${windowSize(w)}: restore with the same evaluate settings, or start the evaluator fresh`,
      );
    }
    if (!isSnapshottable(this.inner)) throw configError('this Rolling metric wraps a metric without snapshot()/restore()');
    const queue = w.kind === 'fading' ? [] : fromColumns(snapshot.queue);
    const times = w.kind === 'time' ? snapshot.times : [];
    if (!Array.isArray(times) || times.length !== (w.kind === 'time' ? queue.length : 0)) {
      throw metricSnapshotError(`a time window needs one time per observation`);
    }
    times.forEach((t) => checkFinite(t, 'window time'));
    if (w.kind === 'count' && queue.length > w.size) throw metricSnapshotError(`count window of ${w.size} holds ${queue.length} observations`);
    const faded = w.kind === 'fading' ? checkFinite(snapshot.faded, 'fading count') : 0;
    (this.inner as Snapshottable<unknown>).restore(snapshot.inner);
    this.queue = new ObservationQueue();
    queue.forEach((o, i) => this.queue.push(o, w.kind === 'time' ? times[i] : 0));
    this.faded = faded;
  }

  private evict(now: number): void {
    if (this.window.kind !== 'time') return;
    const cutoff = now - this.window.ms;
    for (let t = this.queue.peekTime(); t !== undefined && t <= cutoff; t = this.queue.peekTime()) this.inner.revert(this.queue.shift());
  }
}
