/**
 * The simple methods: Bernoulli(p) and systematic (every k-th item from a random start). Neither has a
 * fixed sample size; an optional `limit` keeps only the latest `limit` selected items, so memory stays fixed.
 */
import type { Random } from './random.js';
import { randomBelow, randomOpen } from './random.js';
import type { Sampler, SamplerSnapshot } from './sampler.js';
import { drawWithReplacement } from './draw.js';
import { checkCapacity, checkProbability, checkSnapshot, extraNumber, snapshotError } from './validate.js';

const VERSION = 1;

/** The latest `limit` selected items, oldest first (a ring buffer once full). */
abstract class SelectingSampler<T> implements Sampler<T> {
  abstract readonly kind: string;
  readonly capacity: number;
  protected n = 0;
  /** 1-based index of the next selected item. */
  protected nextIndex = 0;
  private items: T[] = [];
  private head = 0;
  private picked = 0;

  constructor(
    limit: number | undefined,
    protected readonly random: Random,
  ) {
    this.capacity = limit === undefined || limit === Infinity ? Infinity : checkCapacity('sample.size', limit);
  }

  get count(): number {
    return this.n;
  }

  get size(): number {
    return this.items.length;
  }

  /** Items selected so far, including those the limit has since pushed out (lets a caller stream them). */
  get selected(): number {
    return this.picked;
  }

  /** Items until (and including) the next selected one, ≥ 1. */
  protected abstract gap(): number;

  offer(item: T): void {
    // Small enough for V8 to inline into the caller's loop; the selection itself is in `take`.
    if (++this.n < this.nextIndex) return;
    this.take(item);
  }

  private take(item: T): void {
    this.picked++;
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.head] = item;
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    }
    this.nextIndex += this.gap();
  }

  sample(): T[] {
    return [...this.items.slice(this.head), ...this.items.slice(0, this.head)];
  }

  drawBatch(size: number): T[] {
    return drawWithReplacement(this.items, size, this.random);
  }

  protected abstract params(): Record<string, number>;

  snapshot(): SamplerSnapshot<T> {
    return {
      kind: this.kind,
      version: VERSION,
      count: this.n,
      items: this.sample(),
      random: this.random.snapshot(),
      extra: {
        ...this.params(),
        limit: Number.isFinite(this.capacity) ? this.capacity : null,
        next: this.nextIndex,
        selected: this.picked,
      },
    };
  }

  restore(snapshot: SamplerSnapshot<T>): void {
    checkSnapshot(snapshot, this.kind, VERSION);
    const limit = snapshot.extra.limit === null ? Infinity : extraNumber(snapshot, 'limit');
    const mine = this.params();
    for (const [key, value] of Object.entries(mine)) {
      if (snapshot.extra[key] !== value) {
        throw snapshotError(`snapshot has ${this.kind} ${key} ${String(snapshot.extra[key])}, this sampler has ${value}`);
      }
    }
    if (limit !== this.capacity || snapshot.items.length > limit) {
      throw snapshotError(`snapshot has ${this.kind} limit ${limit}, this sampler has ${this.capacity}`);
    }
    const next = extraNumber(snapshot, 'next');
    if (!(next > snapshot.count)) throw snapshotError(`${this.kind} snapshot's next index must follow its count`);
    this.random.restore(snapshot.random);
    this.n = snapshot.count;
    this.nextIndex = next;
    this.picked = extraNumber(snapshot, 'selected');
    this.items = snapshot.items.slice();
    this.head = 0;
  }
}

/**
 * Each item independently with probability p. Rather than a draw per item, the gap to the next selected
 * item is drawn directly: geometric, floor(log u / log(1 - p)) + 1 (the inversion method), so the common
 * path of `offer` is one compare, as in Algorithm L.
 */
export class BernoulliSampler<T> extends SelectingSampler<T> {
  readonly kind = 'bernoulli';
  readonly p: number;
  private readonly logQ: number;

  constructor(options: { p: number; limit?: number }, random: Random) {
    super(options.limit, random);
    this.p = checkProbability('sample.bernoulli.p', options.p);
    this.logQ = Math.log1p(-this.p);
    this.nextIndex = this.gap();
  }

  protected gap(): number {
    return Math.floor(Math.log(randomOpen(this.random)) / this.logQ) + 1;
  }

  protected params(): Record<string, number> {
    return { p: this.p };
  }
}

/** Every k-th item from a start uniform in [1, k]: each item is selected with probability 1/k. */
export class SystematicSampler<T> extends SelectingSampler<T> {
  readonly kind = 'systematic';
  readonly every: number;

  constructor(options: { every: number; limit?: number }, random: Random) {
    super(options.limit, random);
    this.every = checkCapacity('sample.systematic.every', options.every);
    this.nextIndex = 1 + randomBelow(random, this.every);
  }

  protected gap(): number {
    return this.every;
  }

  protected params(): Record<string, number> {
    return { every: this.every };
  }
}
