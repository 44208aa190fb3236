/**
 * Uniform reservoir sampling: after n offers, every k-subset of the n items is equally likely to be the
 * sample (or the sample is all n items while n ≤ k).
 */
import type { Random, RandomState } from './random.js';
import { randomBeta, randomOpen } from './random.js';
import type { Sampler, SamplerSnapshot } from './sampler.js';
import { chooseSubset, drawWithReplacement } from './draw.js';
import { checkCapacity, checkSnapshot, extraNumber, sampleError, snapshotError } from './validate.js';

const VERSION = 1;

/** How many decided replacements `offerBatch` holds before writing them. */
const PENDING = 1024;

/** The parts of a uniform reservoir's state a stratified sampler stores per label. */
export interface UniformState<T> {
  readonly capacity: number;
  readonly count: number;
  readonly items: readonly T[];
  readonly w: number;
  readonly next: number;
}

/**
 * Algorithm L (Li 1994, "Reservoir-sampling algorithms of time complexity O(n(1 + log(N/n)))").
 *
 * Instead of drawing a random number per item as Algorithm R does, it keeps W, the largest of the k
 * smallest random keys seen so far, and jumps straight to the next item whose key would fall below W:
 * the gap is geometric with parameter W. So the common path of `offer` is one increment and one compare,
 * and only O(k(1 + log(n/k))) random numbers are drawn over n items.
 *
 * @example
 *   const r = new UniformReservoir<number>(3, createRandom(1));
 *   for (let i = 0; i < 1000; i++) r.offer(i);
 *   r.size; // 3
 */
export class UniformReservoir<T> implements Sampler<T> {
  readonly kind: string = 'uniform';
  private cap: number;
  private items: T[] = [];
  private n = 0;
  /** W: the k-th smallest key among the n items seen (Beta(k, n - k + 1) distributed). */
  private w = 0;
  /** 1-based index of the next item to enter; 0 while the reservoir is filling. */
  private nextIndex = 0;
  /**
   * `offerBatch`'s decided but unwritten replacements (slot, index in the batch); allocated on its first
   * use. Per reservoir, not shared: reading a batch's item may run code (a getter) that offers elsewhere.
   */
  private pending: { slots: Int32Array; from: Uint32Array } | undefined;

  constructor(
    capacity: number,
    private readonly random: Random,
  ) {
    this.cap = checkCapacity('sample.size', capacity);
  }

  get capacity(): number {
    return this.cap;
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    return this.items.length;
  }

  offer(item: T): void {
    // The hot path is kept this small so V8 inlines it into the caller's loop; the rest is in `take`.
    if (++this.n < this.nextIndex) return;
    this.take(item);
  }

  /**
   * Same result as offering each item in turn, but Algorithm L knows the index of the next item to enter,
   * so the items in between are never read: O(k(1 + log(n/k))) work per stream, not O(n). For batches
   * that arrive as arrays (a Kafka fetch, a file chunk).
   *
   * The replacements are decided first and written afterwards, a chunk at a time: in a large batch each
   * item that enters is far from the previous one, so reading it is a cache miss (~100 ns here, as much as
   * the arithmetic of a replacement). Decided first, the reads no longer wait on each other and the
   * processor overlaps them. Later writes to a slot still land after earlier ones, so the sample is the same.
   */
  offerBatch(batch: readonly T[]): void {
    const len = batch.length;
    let i = 0;
    while (i < len && this.nextIndex === 0) this.offer(batch[i++]);
    this.pending ??= { slots: new Int32Array(PENDING), from: new Uint32Array(PENDING) };
    const { slots, from } = this.pending;
    const random = this.random;
    const cap = this.cap;
    let pending = 0;
    // Locals rather than fields in this loop: it is all arithmetic, and there is one loop per replacement.
    let n = this.n;
    let w = this.w;
    let next = this.nextIndex;
    while (i < len) {
      const skipped = next - n - 1;
      if (skipped >= len - i) {
        n += len - i;
        break;
      }
      i += skipped;
      n = next;
      // The same draws in the same order as `take` and `skip`, so batching changes nothing about the sample.
      slots[pending] = Math.floor(random.next() * cap);
      from[pending++] = i++;
      w *= Math.exp(Math.log(randomOpen(random)) / cap);
      next += Math.floor(Math.log(randomOpen(random)) / Math.log1p(-w)) + 1;
      if (pending === slots.length) {
        this.write(batch, slots, from, pending);
        pending = 0;
      }
    }
    this.n = n;
    this.w = w;
    this.nextIndex = next;
    this.write(batch, slots, from, pending);
  }

  private write(batch: readonly T[], slots: Int32Array, from: Uint32Array, pending: number): void {
    const items = this.items;
    for (let j = 0; j < pending; j++) items[slots[j]] = batch[from[j]];
  }

  private take(item: T): void {
    const items = this.items;
    if (this.nextIndex === 0) {
      items.push(item);
      if (items.length === this.cap) this.start();
      return;
    }
    items[Math.floor(this.random.next() * this.cap)] = item;
    // The k - 1 survivors and the newcomer have keys i.i.d. uniform below the old W, so the new W is the
    // old one times the maximum of k uniforms, U^(1/k).
    this.w *= Math.exp(Math.log(randomOpen(this.random)) / this.cap);
    this.skip();
  }

  sample(): T[] {
    return this.items.slice();
  }

  drawBatch(size: number): T[] {
    return drawWithReplacement(this.items, size, this.random);
  }

  /** Just filled at n = k: W is the largest of k uniform keys, U^(1/k). */
  private start(): void {
    this.w = Math.exp(Math.log(randomOpen(this.random)) / this.cap);
    this.skip();
  }

  /**
   * Full at n > k without a W (after a merge or a shrink): W is the k-th order statistic of n uniforms,
   * Beta(k, n - k + 1), independent of which items are in the sample, so drawing it afresh is exact.
   */
  private resume(): void {
    if (this.n === this.cap) return this.start();
    this.w = randomBeta(this.random, this.cap, this.n - this.cap + 1);
    this.nextIndex = this.n;
    this.skip();
  }

  /** Keys are i.i.d. uniform, so the number of items until one falls below W is geometric(W). */
  private skip(): void {
    const gap = Math.floor(Math.log(randomOpen(this.random)) / Math.log1p(-this.w));
    this.nextIndex = (this.nextIndex === 0 ? this.n : this.nextIndex) + gap + 1;
  }

  /**
   * Lowers the capacity, keeping a uniform random subset: a uniform k'-subset of a uniform k-subset is a
   * uniform k'-subset of the stream, so the reservoir stays exact (used by the stratified sampler when a
   * new label takes a share of the total). Capacity can only shrink: dropped items cannot come back.
   */
  shrinkTo(capacity: number): void {
    checkCapacity('sample.size', capacity);
    if (capacity > this.cap) {
      throw sampleError(`a uniform reservoir can only shrink, from ${this.cap} to ${capacity}`);
    }
    if (capacity === this.cap) return;
    this.cap = capacity;
    if (this.items.length > capacity) this.items = chooseSubset(this.items, capacity, this.random);
    if (this.n >= capacity) {
      this.nextIndex = 0;
      this.resume();
    }
  }

  /** @internal Used by `merge` and the stratified sampler. */
  static fromState<T>(state: UniformState<T>, random: Random): UniformReservoir<T> {
    const r = new UniformReservoir<T>(state.capacity, random);
    r.setState(state);
    return r;
  }

  /** @internal */
  getState(): UniformState<T> {
    return { capacity: this.cap, count: this.n, items: this.items.slice(), w: this.w, next: this.nextIndex };
  }

  /** @internal Sets count and items; draws a fresh W when none is given (w = NaN) and the reservoir is full. */
  setState(state: UniformState<T>): void {
    const { capacity, count, items } = state;
    checkCapacity('sample.size', capacity);
    if (!Number.isSafeInteger(count) || items.length !== Math.min(count, capacity)) {
      throw snapshotError(
        `uniform reservoir state must hold min(count, capacity) items: count ${count}, capacity ${capacity}, ${items.length} items`,
      );
    }
    this.cap = capacity;
    this.n = count;
    this.items = items.slice();
    this.w = state.w;
    this.nextIndex = state.next;
    if (count < capacity) {
      // Still filling: no W yet (a merge passes NaN), and a snapshot must hold a number.
      this.nextIndex = 0;
      this.w = 0;
    } else if (Number.isNaN(state.w) || state.next <= count) {
      this.nextIndex = 0;
      this.resume();
    }
  }

  snapshot(): SamplerSnapshot<T> {
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: this.items.slice(),
      random: this.random.snapshot(),
      extra: { capacity: this.cap, w: this.w, next: this.nextIndex },
    };
  }

  /** The PRNG's state alone, without copying the sample as `snapshot` does (e.g. to seed a merge). */
  randomState(): RandomState {
    return this.random.snapshot();
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const capacity = extraNumber(snapshot, 'capacity');
    if (capacity !== this.cap) {
      throw snapshotError(`snapshot capacity ${capacity} does not match this sampler's capacity ${this.cap}`);
    }
    const w = extraNumber(snapshot, 'w');
    const next = extraNumber(snapshot, 'next');
    if (snapshot.count >= capacity && !(w > 0 && w <= 1 && Number.isSafeInteger(next) && next > snapshot.count)) {
      throw snapshotError(`uniform snapshot has an invalid skip state (w ${w}, next ${next}, count ${snapshot.count})`);
    }
    this.random.restore(snapshot.random);
    this.setState({ capacity, count: snapshot.count, items: snapshot.items, w, next });
  }
}

/**
 * Algorithm R (Waterman, in Knuth TAOCP vol. 2 §3.4.2): item n replaces a random slot with probability k/n.
 * One random number per item; kept as the simple reference Algorithm L is tested and benchmarked against.
 */
export class ReservoirR<T> implements Sampler<T> {
  readonly kind = 'uniform-r';
  readonly capacity: number;
  private items: T[] = [];
  private n = 0;

  constructor(
    capacity: number,
    private readonly random: Random,
  ) {
    this.capacity = checkCapacity('sample.size', capacity);
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    return this.items.length;
  }

  offer(item: T): void {
    const n = ++this.n;
    if (n <= this.capacity) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random.next() * n);
    if (j < this.capacity) this.items[j] = item;
  }

  sample(): T[] {
    return this.items.slice();
  }

  drawBatch(size: number): T[] {
    return drawWithReplacement(this.items, size, this.random);
  }

  /** The PRNG's state alone (e.g. to seed a merge). */
  randomState(): RandomState {
    return this.random.snapshot();
  }

  snapshot(): SamplerSnapshot<T> {
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: this.items.slice(),
      random: this.random.snapshot(),
      extra: { capacity: this.capacity },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const capacity = extraNumber(snapshot, 'capacity');
    if (capacity !== this.capacity) {
      throw snapshotError(`snapshot capacity ${capacity} does not match this sampler's capacity ${this.capacity}`);
    }
    if (snapshot.items.length !== Math.min(snapshot.count, capacity)) {
      throw snapshotError(`uniform-r snapshot must hold min(count, capacity) items, has ${snapshot.items.length}`);
    }
    this.random.restore(snapshot.random);
    this.n = snapshot.count;
    this.items = snapshot.items.slice();
  }
}

/** A uniform reservoir of either algorithm: both hold a uniform sample of their stream, which is all a merge needs. */
export type AnyUniformReservoir<T> = UniformReservoir<T> | ReservoirR<T>;

export function isUniformReservoir<T>(sampler: Sampler<T>): sampler is AnyUniformReservoir<T> {
  return sampler instanceof UniformReservoir || sampler instanceof ReservoirR;
}

/**
 * Exact merge of two uniform reservoirs over disjoint streams (e.g. two Kafka partitions) into a uniform
 * reservoir over their union, using the stream counts.
 *
 * A uniform k-subset of the union of n_a + n_b items takes X of them from stream a, X hypergeometric
 * (k draws without replacement from n_a "a" and n_b "b"); given X, those X are a uniform subset of stream a,
 * and a uniform X-subset of a's uniform reservoir is one (X ≤ min(k, n_a) = a's sample size). Same for b.
 *
 * Deterministic given `random`'s state; the merged reservoir keeps using `random` from then on. The inputs
 * are not modified. Capacities must match: a reservoir of capacity k cannot stand in for a larger one.
 */
export function merge<T>(a: AnyUniformReservoir<T>, b: AnyUniformReservoir<T>, random: Random): UniformReservoir<T> {
  if (a.capacity !== b.capacity) {
    throw sampleError(`cannot merge uniform reservoirs of different capacity (${a.capacity} and ${b.capacity})`);
  }
  const k = a.capacity;
  const na = a.count;
  const nb = b.count;
  const m = Math.min(k, na + nb);
  let fromA = 0;
  let restA = na;
  let restB = nb;
  for (let i = 0; i < m; i++) {
    if (random.next() * (restA + restB) < restA) {
      fromA++;
      restA--;
    } else {
      restB--;
    }
  }
  const items = [...chooseSubset(a.sample(), fromA, random), ...chooseSubset(b.sample(), m - fromA, random)];
  // Shuffle so that slot positions carry no trace of which partition an item came from.
  const shuffled = chooseSubset(items, items.length, random);
  return UniformReservoir.fromState({ capacity: k, count: na + nb, items: shuffled, w: NaN, next: 0 }, random);
}
