import { createRandom, randomBelow, type Random, type RandomState } from './random.js';
import type { Sampler } from './sampler.js';
import { isUniformReservoir, merge } from './uniform.js';

/** What readers of a sample need (replay batches, reports), whichever sampler or samplers are behind it. */
export type SampleView<T> = Pick<Sampler<T>, 'count' | 'size' | 'sample' | 'drawBatch'>;

/**
 * One sampler per source partition, read as one sample of their union.
 *
 * Each partition's sampler sees only that partition's items and has its own PRNG (seeded from the
 * partition's key), so its snapshot can move to another process with its partition, and the sample goes on
 * there exactly as it would have here. Memory is one sampler's capacity per partition held.
 *
 * The union:
 * - `sample()` of uniform reservoirs (`uniform` or `uniform-r`) is their exact merge (`merge`), a uniform sample of all the partitions'
 *   items of one reservoir's capacity; other methods give the partitions' samples side by side.
 * - `drawBatch` picks, for each draw, a partition with probability proportional to the items it has seen
 *   (uniform reservoirs: each sampled item stands for count/size items of its stream, so every item of the
 *   union is equally likely, as a draw from the merged reservoir would be) or to its sample size (other
 *   methods: uniform over the samples side by side), then an item of that partition's sample, drawn with
 *   that sampler's own PRNG (saved with it).
 */
export class PartitionedSampler<T> implements SampleView<T> {
  private readonly parts = new Map<string, Sampler<T>>();
  /**
   * Partition keys, sorted: merges and draws go through partitions in this order, so they do not depend on
   * the order in which this process came to hold its partitions.
   */
  private keys: string[] = [];

  /**
   * @param create a fresh sampler for a partition key (the caller seeds its PRNG from the key).
   * @param random picks partitions in `drawBatch`; its state belongs to the process, not to a partition.
   * @param drawnFrom told of each partition a draw took an item from: that draw advanced the partition's
   *   PRNG, which is part of its state, so its checkpoint must be written again.
   */
  constructor(
    private readonly create: (key: string) => Sampler<T>,
    private readonly random: Random,
    private readonly drawnFrom: (key: string) => void = () => {},
  ) {}

  /** The sampler of one partition, created on first use. */
  part(key: string): Sampler<T> {
    let sampler = this.parts.get(key);
    if (sampler === undefined) {
      sampler = this.create(key);
      this.parts.set(key, sampler);
      this.keys = [...this.keys, key].sort();
    }
    return sampler;
  }

  has(key: string): boolean {
    return this.parts.has(key);
  }

  partitions(): readonly string[] {
    return this.keys;
  }

  offerTo(key: string, item: T): void {
    this.part(key).offer(item);
  }

  /** Replaces a partition's sampler (restored elsewhere, e.g. from the state its previous owner committed). */
  install(key: string, sampler: Sampler<T>): void {
    if (!this.parts.has(key)) this.keys = [...this.keys, key].sort();
    this.parts.set(key, sampler);
  }

  /** Forgets a partition (it moved to another process, which takes its sampler from the committed state). */
  drop(key: string): void {
    if (this.parts.delete(key)) this.keys = this.keys.filter((k) => k !== key);
  }

  get count(): number {
    let n = 0;
    for (const s of this.parts.values()) n += s.count;
    return n;
  }

  get size(): number {
    let n = 0;
    for (const s of this.parts.values()) n += s.size;
    return n;
  }

  /**
   * The union's sample (see the class comment). The merge of uniform reservoirs draws from its own PRNG,
   * seeded from the partitions' counts and PRNG states, so reading the sample changes no state and gives the
   * same answer twice. Counts alone would not do: the split of the sample between partitions (hypergeometric)
   * would then be the same for every seed, e.g. always 1, 6 and 43 of k = 50 from partitions of 100, 1000 and
   * 5000 items, where a uniform sample takes 0.82, 8.2 and 41 on average.
   */
  sample(): T[] {
    const samplers = this.keys.map((k) => this.parts.get(k) as Sampler<T>);
    if (samplers.length === 1) return samplers[0]!.sample();
    const uniform = samplers.filter(isUniformReservoir);
    if (uniform.length === samplers.length && uniform.length > 1) {
      const random = createRandom(`merge:${uniform.map((s) => `${s.count}:${s.randomState().state.join('.')}`).join(',')}`);
      return uniform.reduce((a, b) => merge(a, b, random)).sample();
    }
    return samplers.flatMap((s) => s.sample());
  }

  drawBatch(size: number): T[] {
    if (this.keys.length === 1) {
      const key = this.keys[0]!;
      const sampler = this.parts.get(key)!;
      if (size > 0 && sampler.size > 0) this.drawnFrom(key);
      return sampler.drawBatch(size);
    }
    const keys = this.keys.filter((k) => this.parts.get(k)!.size > 0);
    const samplers = keys.map((k) => this.parts.get(k)!);
    if (samplers.length === 0 || size <= 0) return [];
    const weights = samplers.map((s) => (isUniformReservoir(s) ? s.count : s.size));
    const total = weights.reduce((a, b) => a + b, 0);
    const out: T[] = [];
    for (let i = 0; i < size; i++) {
      // Integer arithmetic on the cumulative weights: no rounding decides a partition.
      let r = randomBelow(this.random, total);
      let j = 0;
      while (r >= weights[j]!) r -= weights[j++]!;
      out.push(samplers[j]!.drawBatch(1)[0]!);
      this.drawnFrom(keys[j]!);
    }
    return out;
  }

  /** The state of the partition draws (the partitions' samplers are saved one by one). */
  drawState(): RandomState {
    return this.random.snapshot();
  }

  restoreDrawState(state: RandomState): void {
    this.random.restore(state);
  }
}
