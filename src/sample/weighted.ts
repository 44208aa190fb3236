/**
 * Weighted reservoir sampling without replacement: the sample is distributed as k successive draws, each
 * item picked with probability proportional to its weight among those not yet picked (e.g. weight = token
 * count, for a token-weighted sample).
 */
import type { Random } from './random.js';
import { randomOpen } from './random.js';
import type { Sampler, SamplerSnapshot } from './sampler.js';
import { drawWithReplacement } from './draw.js';
import { checkCapacity, checkSnapshot, checkWeight, extraArray, extraNumber, snapshotError } from './validate.js';

const VERSION = 1;

/**
 * A-ExpJ (Efraimidis & Spirakis 2006, "Weighted random sampling with a reservoir").
 *
 * Item i gets key u_i^(1/w_i) and the sample is the k largest keys (A-Res). A-ExpJ avoids a random draw
 * per item: given the smallest key T in the reservoir, the weight to skip before the next item that beats
 * T is exponential, X_w = log(u) / log(T); the item that crosses it gets a key drawn uniformly in (T^w, 1)
 * raised to 1/w. Keys are kept as logarithms (log u / w) because u^(1/w) underflows for large weights.
 *
 * @example
 *   const r = new WeightedReservoir<{ tokenCount: number }>(100, (x) => x.tokenCount, createRandom(1));
 */
export class WeightedReservoir<T> implements Sampler<T> {
  readonly kind = 'weighted';
  readonly capacity: number;
  private n = 0;
  /** A min-heap on log-keys: heap[0] is the threshold T every newcomer must beat. */
  private keys: Float64Array;
  private items: T[] = [];
  /** Weight still to skip before the next item enters (X_w minus the weights seen since). */
  private toSkip = 0;

  constructor(
    capacity: number,
    private readonly weight: (item: T) => number,
    private readonly random: Random,
  ) {
    this.capacity = checkCapacity('sample.size', capacity);
    this.keys = new Float64Array(this.capacity);
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    return this.items.length;
  }

  offer(item: T): void {
    const w = checkWeight(this.weight(item), this.n);
    this.n++;
    const size = this.items.length;
    if (size < this.capacity) {
      this.keys[size] = Math.log(randomOpen(this.random)) / w;
      this.items.push(item);
      this.siftUp(size);
      if (size + 1 === this.capacity) this.drawSkip();
      return;
    }
    this.toSkip -= w;
    if (this.toSkip > 0) return;
    const logT = this.keys[0];
    const tw = Math.exp(w * logT);
    const r2 = tw + (1 - tw) * randomOpen(this.random);
    this.keys[0] = Math.log(r2) / w;
    this.items[0] = item;
    this.siftDown(0);
    this.drawSkip();
  }

  private drawSkip(): void {
    // X_w = log(u) / log(T): both logs are ≤ 0, so X_w ≥ 0 (0 when T = 1, i.e. the next item enters).
    const logT = this.keys[0];
    this.toSkip = logT === 0 ? 0 : Math.log(randomOpen(this.random)) / logT;
  }

  private siftUp(i: number): void {
    const keys = this.keys;
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= keys[i]) break;
      this.swap(i, parent, keys, items);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const keys = this.keys;
    const items = this.items;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && keys[l] < keys[m]) m = l;
      if (r < n && keys[r] < keys[m]) m = r;
      if (m === i) return;
      this.swap(i, m, keys, items);
      i = m;
    }
  }

  private swap(i: number, j: number, keys: Float64Array, items: T[]): void {
    const k = keys[i];
    keys[i] = keys[j];
    keys[j] = k;
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
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
      extra: { capacity: this.capacity, logKeys: Array.from(this.keys.subarray(0, this.items.length)), toSkip: this.toSkip },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const capacity = extraNumber(snapshot, 'capacity');
    if (capacity !== this.capacity) {
      throw snapshotError(`snapshot capacity ${capacity} does not match this sampler's capacity ${this.capacity}`);
    }
    const logKeys = extraArray(snapshot, 'logKeys');
    const { items, count } = snapshot;
    if (items.length !== Math.min(count, capacity) || logKeys.length !== items.length) {
      throw snapshotError(`weighted snapshot must hold min(count, capacity) items and as many keys`);
    }
    if (!logKeys.every((k) => typeof k === 'number' && k <= 0)) {
      throw snapshotError(`weighted snapshot keys must be logarithms of numbers in (0, 1]`);
    }
    const toSkip = extraNumber(snapshot, 'toSkip');
    this.random.restore(snapshot.random);
    this.n = count;
    this.items = items.slice();
    this.keys = new Float64Array(this.capacity);
    this.keys.set(logKeys as number[]);
    this.toSkip = toSkip;
  }
}
