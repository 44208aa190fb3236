import { configError } from '../errors.js';
import type { Metric, Observation } from './metrics.js';

/** How a `Rolling` metric forgets. */
export type RollingWindow =
  /** The last `size` observations. */
  | { readonly kind: 'count'; readonly size: number }
  /** Observations made during the last `ms` milliseconds of `now()` (those with time > now - ms). */
  | { readonly kind: 'time'; readonly ms: number; readonly now: () => number }
  /** Every observation, the one i updates ago weighted factor^i (0 < factor <= 1). */
  | { readonly kind: 'fading'; readonly factor: number };

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
  private queue: Observation[] = [];
  private times: number[] = [];
  private head = 0;
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
    return this.window.kind === 'fading' ? this.faded : this.queue.length - this.head;
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
        if (this.length > w.size) this.inner.revert(this.shift());
        return;
      case 'time': {
        const t = w.now();
        this.inner.update(o);
        this.queue.push(o);
        this.times.push(t);
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

  private evict(now: number): void {
    if (this.window.kind !== 'time') return;
    const cutoff = now - this.window.ms;
    while (this.head < this.queue.length && this.times[this.head] <= cutoff) this.inner.revert(this.shift());
  }

  private shift(): Observation {
    const o = this.queue[this.head];
    this.head++;
    // Amortised O(1) dequeue: drop the consumed prefix once it is half the array.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      if (this.times.length > 0) this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return o;
  }
}
