import type { Observation } from './metrics.js';
import type { ObservationColumns } from './rolling.js';

const HAS_P = 1;
const HAS_WEIGHT = 2;

/**
 * A FIFO of observations (with their clock times) kept in typed-array columns, for count and time windows.
 *
 * A 60 s time window at 50,000 messages/s holds 3 million observations. As objects they cost ~80 bytes
 * each and all live long enough to reach the old generation, so every major GC walks them; in columns
 * they cost 33 bytes and nothing for the GC to trace. Labels are stored as indices into a table of the
 * distinct labels seen, and an observation is rebuilt as an object only when it leaves the window.
 */
export class ObservationQueue {
  private labels: string[] = [];
  private labelIndex = new Map<string, number>();
  private yTrue = new Int32Array(16);
  private yPred = new Int32Array(16);
  private pTrue = new Float64Array(16);
  private weight = new Float64Array(16);
  private time = new Float64Array(16);
  private flags = new Uint8Array(16);
  /** Ring buffer: `size` entries starting at `head`, in a capacity that is a power of two. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(o: Observation, time = 0): void {
    if (this.size === this.yTrue.length) this.grow();
    const at = (this.head + this.size) & (this.yTrue.length - 1);
    this.yTrue[at] = this.id(o.yTrue);
    this.yPred[at] = this.id(o.yPred);
    let flags = 0;
    if (o.pTrue !== undefined) {
      this.pTrue[at] = o.pTrue;
      flags |= HAS_P;
    }
    if (o.weight !== undefined) {
      this.weight[at] = o.weight;
      flags |= HAS_WEIGHT;
    }
    this.flags[at] = flags;
    this.time[at] = time;
    this.size++;
  }

  /** Clock time of the oldest observation; undefined when empty. */
  peekTime(): number | undefined {
    return this.size === 0 ? undefined : this.time[this.head];
  }

  /** Removes and returns the oldest observation, as it was pushed. */
  shift(): Observation {
    if (this.size === 0) throw new RangeError('ObservationQueue.shift on an empty queue');
    const o = this.at(this.head);
    this.head = (this.head + 1) & (this.yTrue.length - 1);
    this.size--;
    return o;
  }

  /** Oldest first. */
  toArray(): Observation[] {
    const out = new Array<Observation>(this.size);
    const mask = this.yTrue.length - 1;
    for (let k = 0; k < this.size; k++) out[k] = this.at((this.head + k) & mask);
    return out;
  }

  /** Clock times, oldest first. */
  times(): number[] {
    const out = new Array<number>(this.size);
    const mask = this.yTrue.length - 1;
    for (let k = 0; k < this.size; k++) out[k] = this.time[(this.head + k) & mask];
    return out;
  }

  /** The queue as snapshot columns, numbered as `toColumns` numbers an array of the same observations. */
  toColumns(): ObservationColumns {
    const labels: string[] = [];
    const renumber = new Map<number, number>();
    const mask = this.yTrue.length - 1;
    const id = (i: number): number => {
      let j = renumber.get(i);
      if (j === undefined) {
        j = labels.length;
        labels.push(this.labels[i]);
        renumber.set(i, j);
      }
      return j;
    };
    const yTrue: number[] = [];
    const yPred: number[] = [];
    const pTrue: (number | null)[] = [];
    const weight: (number | null)[] = [];
    // All true labels first, then the predictions: the numbering `toColumns` gives, so snapshots keep their bytes.
    for (let k = 0; k < this.size; k++) yTrue.push(id(this.yTrue[(this.head + k) & mask]));
    for (let k = 0; k < this.size; k++) {
      const at = (this.head + k) & mask;
      yPred.push(id(this.yPred[at]));
      pTrue.push(this.flags[at] & HAS_P ? this.pTrue[at] : null);
      weight.push(this.flags[at] & HAS_WEIGHT ? this.weight[at] : null);
    }
    return { labels, yTrue, yPred, pTrue, weight };
  }

  private at(i: number): Observation {
    const flags = this.flags[i];
    const o: { yTrue: string; yPred: string; pTrue?: number; weight?: number } = {
      yTrue: this.labels[this.yTrue[i]],
      yPred: this.labels[this.yPred[i]],
    };
    if (flags & HAS_P) o.pTrue = this.pTrue[i];
    if (flags & HAS_WEIGHT) o.weight = this.weight[i];
    return o;
  }

  private id(label: string): number {
    let i = this.labelIndex.get(label);
    if (i === undefined) {
      i = this.labels.length;
      this.labels.push(label);
      this.labelIndex.set(label, i);
    }
    return i;
  }

  /** Doubles every column, unrolling the ring so that the queue starts at 0. */
  private grow(): void {
    const capacity = this.yTrue.length * 2;
    const mask = this.yTrue.length - 1;
    const move = <A extends Int32Array | Float64Array | Uint8Array>(from: A, to: A): A => {
      for (let k = 0; k < this.size; k++) to[k] = from[(this.head + k) & mask];
      return to;
    };
    this.yTrue = move(this.yTrue, new Int32Array(capacity));
    this.yPred = move(this.yPred, new Int32Array(capacity));
    this.pTrue = move(this.pTrue, new Float64Array(capacity));
    this.weight = move(this.weight, new Float64Array(capacity));
    this.time = move(this.time, new Float64Array(capacity));
    this.flags = move(this.flags, new Uint8Array(capacity));
    this.head = 0;
  }
}
