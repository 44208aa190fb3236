/**
 * Samplers that favour recent items, for drifting streams: an exponentially biased reservoir and a uniform
 * sample of a sliding window (the last W items or the last T ms).
 */
import type { Random } from './random.js';
import type { Sampler, SamplerSnapshot } from './sampler.js';
import { drawWithReplacement } from './draw.js';
import { checkCapacity, checkSnapshot, extraArray, extraNumber, sampleError, snapshotError } from './validate.js';

const VERSION = 1;

export interface TimeBiasedOptions {
  readonly capacity: number;
  /** λ: the r-th of t items is in the sample with probability ≈ p_in · e^(-λ(t - r)). Default 1/capacity. */
  readonly bias?: number;
}

/**
 * Aggarwal's bias λ must be in (0, 1/capacity]: with a larger one a full reservoir would have to drop more
 * than one item for each item it takes. (A rounding margin lets 1/capacity itself through.)
 */
export function biasFits(bias: number, capacity: number): boolean {
  return bias > 0 && bias * capacity <= 1 + 1e-12;
}

/**
 * Exponentially biased reservoir (Aggarwal 2006, "On biased reservoir sampling in the presence of stream
 * evolution", Algorithms 3.1 and 3.2).
 *
 * Each item is admitted with probability p_in = λ·capacity; an admitted item replaces a random resident with
 * probability F = size/capacity (the fill fraction) and is appended otherwise. The replacement rate makes
 * an item's survival decay as e^(-λ·age), with no per-item timestamps and O(1) work per offer. λ must be at
 * most 1/capacity (p_in ≤ 1): a larger bias would need a bigger reservoir than the one given.
 */
export class TimeBiasedReservoir<T> implements Sampler<T> {
  readonly kind = 'recent';
  readonly capacity: number;
  readonly bias: number;
  private readonly admit: number;
  private items: T[] = [];
  private n = 0;

  constructor(
    options: TimeBiasedOptions,
    private readonly random: Random,
  ) {
    this.capacity = checkCapacity('sample.size', options.capacity);
    this.bias = options.bias ?? 1 / this.capacity;
    if (!biasFits(this.bias, this.capacity)) {
      throw sampleError(
        `sample.recent.bias must be in (0, 1/sample.size] = (0, ${1 / this.capacity}], got ${String(options.bias)}`,
      );
    }
    this.admit = Math.min(1, this.bias * this.capacity);
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    return this.items.length;
  }

  offer(item: T): void {
    this.n++;
    if (this.admit < 1 && this.random.next() >= this.admit) return;
    const size = this.items.length;
    if (this.random.next() * this.capacity < size) this.items[Math.floor(this.random.next() * size)] = item;
    else this.items.push(item);
  }

  sample(): T[] {
    return this.items.slice();
  }

  drawBatch(size: number): T[] {
    return drawWithReplacement(this.items, size, this.random);
  }

  snapshot(): SamplerSnapshot<T> {
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: this.items.slice(),
      random: this.random.snapshot(),
      extra: { capacity: this.capacity, bias: this.bias },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const capacity = extraNumber(snapshot, 'capacity');
    const bias = extraNumber(snapshot, 'bias');
    if (capacity !== this.capacity || bias !== this.bias) {
      throw snapshotError(
        `snapshot is recent with size ${capacity} and bias ${bias}, this sampler has size ${this.capacity} and bias ${this.bias}`,
      );
    }
    if (snapshot.items.length > capacity) throw snapshotError(`recent snapshot holds more items than its capacity`);
    this.random.restore(snapshot.random);
    this.items = snapshot.items.slice();
    this.n = snapshot.count;
  }
}

export interface SlidingWindowOptions<T> {
  readonly capacity: number;
  /** Keep a uniform sample of the last `windowItems` items. */
  readonly windowItems?: number;
  /** Keep a uniform sample of the items whose time is within `windowMs` of the latest time seen. */
  readonly windowMs?: number;
  /** Event time of an item, in ms; required with `windowMs`. The clock is the stream, never Date.now. */
  readonly time?: (item: T) => number;
}

/**
 * Uniform sample of k items from a sliding window, by priority sampling (Babcock, Datar & Motwani 2002,
 * "Sampling from a moving window over streaming data"): each item gets a random priority and the sample is
 * the k highest priorities in the window. An item can be forgotten as soon as k later items outrank it, since
 * they expire after it; so only the expected k(1 + ln(W/k)) "k-skyline" items are kept, not the window.
 *
 * Times are made non-decreasing (a late item counts as arriving at the latest time seen), which keeps
 * "later in the stream" and "expires later" the same thing, as the skyline argument needs.
 *
 * Offers append to a buffer; when it fills, one pass from the newest item backwards with a min-heap of the k
 * best later priorities drops the dominated and expired items (amortised O(log k) per item).
 */
export class SlidingWindowReservoir<T> implements Sampler<T> {
  readonly kind = 'window';
  readonly capacity: number;
  readonly windowItems: number;
  readonly windowMs: number;
  private readonly time: ((item: T) => number) | undefined;
  private items: T[] = [];
  private priorities: number[] = [];
  private indices: number[] = [];
  private times: number[] = [];
  private n = 0;
  private now = -Infinity;
  private limit: number;

  constructor(
    options: SlidingWindowOptions<T>,
    private readonly random: Random,
  ) {
    this.capacity = checkCapacity('sample.size', options.capacity);
    if (options.windowItems === undefined && options.windowMs === undefined) {
      throw sampleError(`a sliding-window sample needs sample.recent.windowItems or sample.recent.windowMs`);
    }
    this.windowItems =
      options.windowItems === undefined ? Infinity : checkCapacity('sample.recent.windowItems', options.windowItems);
    this.windowMs = options.windowMs === undefined ? Infinity : checkCapacity('sample.recent.windowMs', options.windowMs);
    if (options.windowMs !== undefined && options.time === undefined) {
      throw sampleError(`sample.recent.windowMs needs a time accessor (e.g. the record timestamp)`);
    }
    this.time = options.time;
    this.limit = Math.max(64, 4 * this.capacity);
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    let inWindow = 0;
    for (let i = this.items.length - 1; i >= 0 && inWindow < this.capacity && this.live(i); i--) inWindow++;
    return inWindow;
  }

  offer(item: T): void {
    // A refused item is not counted: it must neither change `count` nor take a place in the last N items.
    const index = this.n + 1;
    if (this.time !== undefined) {
      const t = this.time(item);
      if (typeof t !== 'number' || Number.isNaN(t)) {
        throw sampleError(`sample time must be a number of ms, got ${String(t)} for item ${index}`);
      }
      if (t > this.now) this.now = t;
    }
    this.n = index;
    this.items.push(item);
    this.priorities.push(this.random.next());
    this.indices.push(index);
    this.times.push(this.now);
    if (this.items.length >= this.limit) {
      this.compact();
      if (this.items.length > this.limit / 2) this.limit *= 2;
    }
  }

  private live(i: number): boolean {
    // Infinity - Infinity is NaN, so an absent time window is tested explicitly.
    return (
      this.indices[i] > this.n - this.windowItems &&
      (this.windowMs === Infinity || this.times[i] > this.now - this.windowMs)
    );
  }

  /** Indices (newest first) of the buffered items still in the window and outranked by fewer than k later ones. */
  private skyline(onlySample: boolean): number[] {
    const k = this.capacity;
    const heap = new Float64Array(k);
    const heapIdx = new Int32Array(k);
    let heapSize = 0;
    const kept: number[] = [];
    for (let i = this.items.length - 1; i >= 0 && this.live(i); i--) {
      const p = this.priorities[i];
      if (heapSize < k) {
        kept.push(i);
        let c = heapSize++;
        while (c > 0) {
          const parent = (c - 1) >> 1;
          if (heap[parent] <= p) break;
          heap[c] = heap[parent];
          heapIdx[c] = heapIdx[parent];
          c = parent;
        }
        heap[c] = p;
        heapIdx[c] = i;
      } else if (p > heap[0]) {
        kept.push(i);
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          if (l >= k) break;
          const m = l + 1 < k && heap[l + 1] < heap[l] ? l + 1 : l;
          if (heap[m] >= p) break;
          heap[c] = heap[m];
          heapIdx[c] = heapIdx[m];
          c = m;
        }
        heap[c] = p;
        heapIdx[c] = i;
      }
    }
    if (onlySample) return Array.from(heapIdx.subarray(0, heapSize)).sort((a, b) => a - b);
    return kept.reverse();
  }

  private compact(): void {
    const keep = this.skyline(false);
    this.items = keep.map((i) => this.items[i]);
    this.priorities = keep.map((i) => this.priorities[i]);
    this.indices = keep.map((i) => this.indices[i]);
    this.times = keep.map((i) => this.times[i]);
  }

  /** The k highest-priority items in the window, oldest first. */
  sample(): T[] {
    return this.skyline(true).map((i) => this.items[i]);
  }

  drawBatch(size: number): T[] {
    return drawWithReplacement(this.sample(), size, this.random);
  }

  snapshot(): SamplerSnapshot<T> {
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: this.items.slice(),
      random: this.random.snapshot(),
      extra: {
        capacity: this.capacity,
        // JSON has no Infinity: an absent window is stored as null.
        windowItems: Number.isFinite(this.windowItems) ? this.windowItems : null,
        windowMs: Number.isFinite(this.windowMs) ? this.windowMs : null,
        now: Number.isFinite(this.now) ? this.now : null,
        limit: this.limit,
        priorities: this.priorities.slice(),
        indices: this.indices.slice(),
        times: this.times.map((t) => (Number.isFinite(t) ? t : null)),
      },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const e = snapshot.extra;
    const same = (stored: unknown, mine: number): boolean => (stored === null ? !Number.isFinite(mine) : stored === mine);
    if (e.capacity !== this.capacity || !same(e.windowItems, this.windowItems) || !same(e.windowMs, this.windowMs)) {
      throw snapshotError(
        `snapshot is a window sample (size ${String(e.capacity)}, ${String(e.windowItems)} items, ${String(e.windowMs)} ms) unlike this one (size ${this.capacity}, ${this.windowItems} items, ${this.windowMs} ms)`,
      );
    }
    const priorities = extraArray(snapshot, 'priorities') as number[];
    const indices = extraArray(snapshot, 'indices') as number[];
    const times = extraArray(snapshot, 'times') as (number | null)[];
    const length = snapshot.items.length;
    if (priorities.length !== length || indices.length !== length || times.length !== length) {
      throw snapshotError(`window snapshot has ${length} items but not as many priorities, indices and times`);
    }
    this.random.restore(snapshot.random);
    this.items = snapshot.items.slice();
    this.priorities = priorities.slice();
    this.indices = indices.slice();
    this.times = times.map((t) => t ?? -Infinity);
    this.n = snapshot.count;
    this.now = e.now === null ? -Infinity : extraNumber(snapshot, 'now');
    this.limit = extraNumber(snapshot, 'limit');
  }
}
