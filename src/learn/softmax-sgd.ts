import { z } from 'zod';
import { ERROR_CODES, TokrsError, configError } from '../errors.js';
import type { SparseVector } from '../features/sparse-vector.js';
import type { HashSettings, LabelledVector, ModelSnapshot, OnlineClassifier, SnapshotArray } from './classifier.js';
import { argmax } from './classifier.js';
import { type Optimizer, checkOptimizer, decayOver, ftrlWeight, sgd, sgdRate } from './optimizers.js';
import { checkLabel, checkSnapshotHeader, checkVector, checkWeight, snapshotArray } from './validate.js';

export type ClassWeights = 'none' | 'balanced' | Readonly<Record<string, number>>;

export interface SoftmaxSgdOptions {
  /** Hashed input size (2^bits); vectors of another size are rejected. */
  readonly dim: number;
  /** The feature hasher's settings, stored in snapshots and compared on restore. */
  readonly hashing?: HashSettings;
  readonly optimizer?: Optimizer;
  /** L1 strength (lambda1); applied lazily, see `catchUp`. */
  readonly l1?: number;
  /** L2 strength (lambda2); applied lazily. */
  readonly l2?: number;
  /** Per-class multipliers of the gradient; `balanced` uses n / (K * n_c) from the counts seen so far. */
  readonly classWeights?: ClassWeights;
  /** Learn a bias per class (not regularised). Default true. */
  readonly intercept?: boolean;
  /** Refuse to grow beyond this many classes (LIMIT error), so a label typo storm cannot eat the heap. */
  readonly maxClasses?: number;
}

export const SOFTMAX_SGD_KIND = 'softmax-sgd';
/**
 * Bumped whenever the meaning or layout of the snapshot arrays changes.
 *
 * - 1: dense. `w` and `acc` hold dim × cap values, `lastA` and `lastB` dim values.
 * - 2: sparse by feature. `rows` (Int32, increasing) lists the features with any non-zero state; `w` and
 *   `acc` hold their rows (rows.length × cap), `lastA` and `lastB` their clocks; every other feature's state
 *   is all zeros. A hashed text model touches a small share of its 2^20 buckets (the waimai topology:
 *   6.7%), so this is several times smaller, and restores into exactly the same model.
 *
 * - 3: as 2, with the lazy clocks stored only as far as they carry information: `lastB` only for SGD with
 *   L1 (nothing else moves it: all zeros otherwise), and AdaGrad's `lastA`, which counts steps, as Int32
 *   when every value fits (else Float64, as before). Those clocks were half the bytes of the waimai model's
 *   snapshot, and gzip spent nearly half its time on them (`npx tsx bench/learn.ts`, last table).
 *
 * `snapshot()` writes version 3; `restore` reads all three.
 */
export const SOFTMAX_SGD_VERSION = 3;
/** Snapshot format versions `restore` reads. */
export const SOFTMAX_SGD_READABLE_VERSIONS: readonly number[] = [1, 2, 3];

const metaSchema = z.object({
  optimizer: z.discriminatedUnion('type', [
    z.object({ type: z.literal('sgd'), lr: z.number(), schedule: z.enum(['constant', 'invscaling']), power: z.number() }),
    z.object({ type: z.literal('adagrad'), lr: z.number(), eps: z.number() }),
    z.object({ type: z.literal('ftrl'), alpha: z.number(), beta: z.number() }),
  ]),
  l1: z.number().min(0),
  l2: z.number().min(0),
  classWeights: z.union([z.enum(['none', 'balanced']), z.record(z.string(), z.number().min(0))]),
  intercept: z.boolean(),
  maxClasses: z.number().int().min(1),
  cap: z.number().int().min(0),
  step: z.number().int().min(0),
  updates: z.number().int().min(0),
  cumA: z.number(),
  cumB: z.number(),
  lazy: z.boolean(),
});

/** The `meta` of a SoftmaxSgd snapshot, as `snapshot()` writes it and `restore` checks it. */
export type SoftmaxSgdMeta = z.infer<typeof metaSchema>;

/**
 * Multinomial logistic regression over hashed sparse features, trained online.
 *
 * Parametrisation: class 0 (the first label seen) is the pivot with score 0, and each other class k has a
 * weight row, so scores are s_k = b_k + w_k·x and p = softmax(0, s_1, …, s_{K-1}). With two classes this is
 * exactly binary logistic regression (one weight per feature, half the cost of a symmetric softmax), and a
 * new label simply adds a zero row.
 *
 * Layout: feature-major, `w[j * cap + r]`, so the rows of one active feature are adjacent in memory. `cap`
 * (row capacity) doubles when labels outgrow it; the copy is O(dim × cap) and happens log2(K) times.
 *
 * Lazy regularisation (Carpenter 2008, "Lazy sparse stochastic gradient descent for regularized
 * multinomial logistic regression"): every step shrinks every weight, but a weight is only brought up to
 * date when its feature is active, from global running sums (SGD: sum log(1 - eta_t·l2) and sum eta_t·l1,
 * which also covers the inverse-scaling rate; AdaGrad: the step count, its per-coordinate rate being
 * constant between touches). Missed L2 decay is applied before the missed L1 truncation (clipped at 0,
 * Tsuruoka et al. 2009), so an update costs O(active features × classes). FTRL needs no lazy pass: its
 * weights are a closed form of z and n.
 */
export class SoftmaxSgd implements OnlineClassifier {
  readonly kind = SOFTMAX_SGD_KIND;
  readonly dim: number;
  readonly hashing: HashSettings;

  private optimizer: Optimizer;
  private l1: number;
  private l2: number;
  private classWeights: ClassWeights;
  private intercept: boolean;
  /** Public for the training policy, which keeps replay batches within it; set by the constructor and restore. */
  maxClasses: number;

  private readonly labelList: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private classCounts: Float64Array = new Float64Array(4);

  /** Row capacity: stride of the feature-major arrays. Rows used = K - 1. */
  private cap = 0;
  /** SGD/AdaGrad: weights. FTRL: z. */
  private w: Float32Array = new Float32Array(0);
  /** AdaGrad: sum of squared gradients. FTRL: n. Unused (empty) for SGD. */
  private acc: Float32Array = new Float32Array(0);
  private bias: Float64Array = new Float64Array(0);
  private biasAcc: Float64Array = new Float64Array(0);
  /** Lazy regularisation clocks per feature (empty when l1 = l2 = 0 or FTRL). */
  private lazy = false;
  private lastA: Float64Array = new Float64Array(0);
  private lastB: Float64Array = new Float64Array(0);
  private cumA = 0;
  private cumB = 0;
  private step = 0;
  private updateCount = 0;

  /**
   * One bit per feature, set when `scores` writes its state (every learn does, before its gradient): a
   * superset of the features with state, so a snapshot checks those instead of all 2^bits (7.5 ms a
   * snapshot at 2^20 in a profile of `tokrs run`, every 5,000 messages).
   */
  private written: Uint32Array;
  /** Whether `scores` first touches a message's state in a light loop: for state far beyond the caches. */
  private readonly warmCache: boolean;
  /** Where that loop leaves its sum (never read: it only keeps the loads from being optimised away). */
  private warmSink = 0;
  /** Scratch for scores / gradients, length cap; avoids an allocation per update. */
  private scratch: Float64Array = new Float64Array(0);

  /**
   * The lazy catch-up a prediction computed (and did not store: predicting leaves the model unchanged), kept
   * for the `learn` of the same vector that follows it in prequential use, so its pow/exp per weight is not
   * computed twice. Valid only while nothing was learned since: every update that writes weights clears it,
   * and the clocks (`cumA`, `cumB`, advanced by every step) and the classes (`R`) must be the same.
   */
  private caught: { x: SparseVector | undefined; cumA: number; cumB: number; R: number; w: Float64Array; s: Float64Array } = {
    x: undefined,
    cumA: 0,
    cumB: 0,
    R: 0,
    w: new Float64Array(0),
    s: new Float64Array(0),
  };

  constructor(options: SoftmaxSgdOptions) {
    if (!Number.isInteger(options.dim) || options.dim < 1 || options.dim > 2 ** 30) {
      throw configError(`model dim must be an integer in [1, 2^30], got ${String(options.dim)}`);
    }
    this.dim = options.dim;
    this.written = new Uint32Array(Math.ceil(options.dim / 32));
    this.warmCache = options.dim >= 2 ** 20;
    this.hashing = { ...(options.hashing ?? {}) };
    this.optimizer = checkOptimizer(options.optimizer ?? sgd());
    this.l1 = nonNegative('l1', options.l1 ?? 0);
    this.l2 = nonNegative('l2', options.l2 ?? 0);
    if (this.optimizer.type === 'sgd' && this.optimizer.lr * this.l2 >= 1) {
      throw configError(`model.l2 * model.optimizer.lr must be < 1 for SGD (got ${this.l2} * ${this.optimizer.lr}); lower either`);
    }
    this.classWeights = checkClassWeights(options.classWeights ?? 'none');
    this.intercept = options.intercept ?? true;
    this.maxClasses = options.maxClasses ?? 1024;
    if (!Number.isInteger(this.maxClasses) || this.maxClasses < 1) throw configError(`model.maxClasses must be a positive integer`);
    this.lazy = this.optimizer.type !== 'ftrl' && (this.l1 > 0 || this.l2 > 0);
    if (this.lazy) {
      this.lastA = new Float64Array(this.dim);
      this.lastB = new Float64Array(this.dim);
    }
  }

  get labels(): readonly string[] {
    return this.labelList;
  }

  get updates(): number {
    return this.updateCount;
  }

  predictProba(x: SparseVector): Float64Array {
    checkVector(x, this.dim);
    const K = this.labelList.length;
    const p = new Float64Array(K);
    if (K === 0) return p;
    if (K === 1) {
      p[0] = 1;
      return p;
    }
    const s = this.scratch;
    this.scores(x, s, false);
    softmaxPivot(s, K - 1, p);
    return p;
  }

  predict(x: SparseVector): string | undefined {
    const k = argmax(this.predictProba(x));
    return k < 0 ? undefined : this.labelList[k];
  }

  learn(x: SparseVector, y: string, weight = 1): void {
    checkVector(x, this.dim);
    checkLabel(y);
    checkWeight(weight);
    this.learnChecked(x, y, weight);
  }

  learnMany(batch: readonly LabelledVector[]): void {
    // Validate everything first so that a bad item rejects the batch without half-applying it.
    for (const item of batch) {
      checkVector(item.features, this.dim);
      checkLabel(item.label);
      checkWeight(item.weight ?? 1);
    }
    // New labels beyond maxClasses would fail halfway through the batch, after earlier items were applied.
    const fresh = new Set(batch.map((item) => item.label).filter((y) => !this.labelIndex.has(y)));
    if (this.labelList.length + fresh.size > this.maxClasses) {
      throw new TokrsError(ERROR_CODES.LIMIT, `batch has ${fresh.size} new labels; with ${this.labelList.length} known that is above model.maxClasses = ${this.maxClasses}`);
    }
    for (const item of batch) this.learnChecked(item.features, item.label, item.weight ?? 1);
  }

  private learnChecked(x: SparseVector, y: string, weight: number): void {
    const yk = this.classOf(y);
    this.classCounts[yk] += 1;
    this.updateCount++;
    const t = this.step++;
    const K = this.labelList.length;
    const R = K - 1;
    const o = this.optimizer;
    const eta = o.type === 'sgd' ? sgdRate(o, t) : 0;
    if (R > 0) {
      const cw = weight * this.classWeight(yk);
      const s = this.scratch;
      // Brings active weights up to date (writes them back) and computes s_r = b_r + w_r·x.
      this.scores(x, s, true);
      // Gradient of the log-loss w.r.t. score r: p_{r+1} - [y = r+1], times the example/class weight.
      let max = 0;
      for (let r = 0; r < R; r++) if (s[r] > max) max = s[r];
      let sum = Math.exp(-max);
      for (let r = 0; r < R; r++) sum += s[r] = Math.exp(s[r] - max);
      for (let r = 0; r < R; r++) s[r] = (s[r] / sum - (yk === r + 1 ? 1 : 0)) * cw;
      this.applyGradient(x, s, R, eta);
    }
    // Advance the lazy-regularisation clocks by this step's penalty (applied to weights at their next touch).
    if (this.lazy) {
      if (o.type === 'sgd') {
        this.cumA += Math.log(1 - eta * this.l2);
        this.cumB += eta * this.l1;
      } else {
        this.cumA += 1;
      }
    }
  }

  /** s[r] = bias_r + sum_j w[j, r] x_j for r < K-1. With `write`, caught-up weights are stored back. */
  private scores(x: SparseVector, s: Float64Array, write: boolean): void {
    const R = this.labelList.length - 1;
    const cap = this.cap;
    const { indices, values } = x;
    const n = indices.length;
    if (write) {
      const written = this.written;
      for (let k = 0; k < n; k++) mark(written, indices[k]);
    }
    const w = this.w;
    const o = this.optimizer;
    if (o.type === 'ftrl') {
      for (let r = 0; r < R; r++) s[r] = this.intercept ? ftrlWeight(o, this.bias[r], this.biasAcc[r], 0, 0) : 0;
      const nArr = this.acc;
      const { l1, l2 } = this;
      for (let k = 0; k < n; k++) {
        const base = indices[k] * cap;
        const v = values[k];
        for (let r = 0; r < R; r++) {
          const zi = w[base + r];
          if (zi <= l1 && zi >= -l1) continue; // most weights: skip the square root
          s[r] += ftrlWeight(o, zi, nArr[base + r], l1, l2) * v;
        }
      }
      return;
    }
    for (let r = 0; r < R; r++) s[r] = this.bias[r];
    if (!this.lazy) {
      if (R === 1) {
        // Binary fast path: one contiguous weight per feature.
        let acc = s[0];
        for (let k = 0; k < n; k++) acc += w[indices[k]] * values[k];
        s[0] = acc;
        return;
      }
      for (let k = 0; k < n; k++) {
        const base = indices[k] * cap;
        const v = values[k];
        for (let r = 0; r < R; r++) s[r] += w[base + r] * v;
      }
      return;
    }
    const { l1, l2, lastA, lastB, cumA, cumB } = this;
    // Where nothing moves cumB (see `secondClockMoves`), lastB stays all zeros and out of the cache: one
    // miss less per feature and update.
    const movesB = this.movesLastB;
    const G = this.acc;
    const caught = this.caught;
    if (write && caught.x === x && caught.cumA === cumA && caught.cumB === cumB && caught.R === R) {
      // The prediction just before computed exactly these caught-up weights and scores: store them.
      const cw = caught.w;
      for (let k = 0; k < n; k++) {
        const j = indices[k];
        const base = j * cap;
        for (let r = 0; r < R; r++) w[base + r] = cw[k * R + r];
        lastA[j] = cumA;
        if (movesB) lastB[j] = cumB;
      }
      for (let r = 0; r < R; r++) s[r] = caught.s[r];
      caught.x = undefined;
      return;
    }
    // With 2^20 buckets a feature's weight, accumulator and clock are three cache misses in three arrays,
    // and the loop below is too heavy for the CPU to keep many of them in flight: this light loop issues
    // them all first, so the loop below finds them in cache. `npx tsx bench/learn.ts` (prequential rows) on
    // a 2-core EPYC (2 MB L2, 32 MB L3), warmCache's threshold edited between runs: at 2^20 buckets 4,472 /
    // 5,227 ns a message without the loop, 4,023 / 3,422 with it; with it at every size it only added work
    // below 2^20 (2^18: 2,667 / 2,603 -> 2,971; 2^16: 2,127 / 2,186 -> 2,362), hence the threshold.
    let touched = 0;
    if (this.warmCache) {
      const adaptive = G.length > 0;
      for (let k = 0; k < n; k++) {
        const j = indices[k];
        touched += w[j * cap] + lastA[j];
        if (adaptive) touched += G[j * cap];
        if (movesB) touched += lastB[j];
      }
    }
    this.warmSink = touched;
    // A prediction remembers its catch-up for the learn that usually follows it (see `caught`).
    let cw: Float64Array | undefined;
    if (!write) {
      if (caught.w.length < n * R) caught.w = new Float64Array(Math.max(n * R, 2 * caught.w.length));
      if (caught.s.length < R) caught.s = new Float64Array(this.cap);
      cw = caught.w;
    }
    for (let k = 0; k < n; k++) {
      const j = indices[k];
      const base = j * cap;
      const v = values[k];
      if (o.type === 'sgd') {
        const decay = Math.exp(cumA - lastA[j]);
        const shrink = movesB ? cumB - lastB[j] : 0;
        for (let r = 0; r < R; r++) {
          const wi = truncate(w[base + r] * decay, shrink);
          if (write) w[base + r] = wi;
          else cw![k * R + r] = wi;
          s[r] += wi * v;
        }
      } else {
        const missed = cumA - lastA[j];
        for (let r = 0; r < R; r++) {
          let wi = w[base + r];
          if (missed > 0 && wi !== 0) {
            const rate = o.lr / (Math.sqrt(G[base + r]) + o.eps);
            wi = truncate(wi * decayOver(rate * l2, missed), missed * rate * l1);
            if (write) w[base + r] = wi;
          }
          if (!write) cw![k * R + r] = wi;
          s[r] += wi * v;
        }
      }
      if (write) {
        lastA[j] = cumA;
        if (movesB) lastB[j] = cumB;
      }
    }
    if (write) caught.x = undefined;
    else {
      for (let r = 0; r < R; r++) caught.s[r] = s[r];
      caught.x = x;
      caught.cumA = cumA;
      caught.cumB = cumB;
      caught.R = R;
    }
  }

  /**
   * Brings every lazily regularised weight up to date and restarts the regularisation clocks, leaving the
   * predictions as they were (up to the float32 rounding every stored update has). A stored weight is only
   * the weight the model predicts with once its pending decay is applied, so anything that reads weights
   * out of a snapshot (`averageModels`) calls this first. A no-op without lazy regularisation.
   */
  catchUp(): void {
    if (!this.lazy) return;
    const touched = this.activeRows();
    // A touch (`scores` with write) is what brings a feature up to date: touch every feature with state at
    // once, with zero values so the scores it computes on the side are ignored.
    if (touched.length > 0) this.scores({ indices: touched, values: new Float32Array(touched.length), dim: this.dim }, new Float64Array(this.cap), true);
    // Only cum - last enters the catch-up, and every feature is now at cum: restarting all at 0 changes nothing.
    this.cumA = 0;
    this.cumB = 0;
    this.lastA.fill(0);
    this.lastB.fill(0);
    this.caught.x = undefined;
  }

  private applyGradient(x: SparseVector, g: Float64Array, R: number, eta: number): void {
    const cap = this.cap;
    const { indices, values } = x;
    const n = indices.length;
    const w = this.w;
    const o = this.optimizer;
    switch (o.type) {
      case 'sgd': {
        if (R === 1) {
          const step = eta * g[0];
          for (let k = 0; k < n; k++) w[indices[k]] -= step * values[k];
        } else {
          for (let k = 0; k < n; k++) {
            const base = indices[k] * cap;
            const v = eta * values[k];
            for (let r = 0; r < R; r++) w[base + r] -= v * g[r];
          }
        }
        if (this.intercept) for (let r = 0; r < R; r++) this.bias[r] -= eta * g[r];
        return;
      }
      case 'adagrad': {
        const G = this.acc;
        for (let k = 0; k < n; k++) {
          const base = indices[k] * cap;
          const v = values[k];
          for (let r = 0; r < R; r++) {
            const gi = g[r] * v;
            if (gi === 0) continue;
            const i = base + r;
            G[i] += gi * gi;
            w[i] -= (o.lr * gi) / (Math.sqrt(G[i]) + o.eps);
          }
        }
        if (this.intercept) {
          for (let r = 0; r < R; r++) {
            this.biasAcc[r] += g[r] * g[r];
            this.bias[r] -= (o.lr * g[r]) / (Math.sqrt(this.biasAcc[r]) + o.eps);
          }
        }
        return;
      }
      case 'ftrl': {
        const N = this.acc;
        const { l1, l2 } = this;
        for (let k = 0; k < n; k++) {
          const base = indices[k] * cap;
          const v = values[k];
          for (let r = 0; r < R; r++) {
            const gi = g[r] * v;
            if (gi === 0) continue;
            const i = base + r;
            const zi = w[i];
            const ni = N[i];
            const wi = ftrlWeight(o, zi, ni, l1, l2);
            const nNew = ni + gi * gi;
            const sigma = (Math.sqrt(nNew) - Math.sqrt(ni)) / o.alpha;
            w[i] = zi + gi - sigma * wi;
            N[i] = nNew;
          }
        }
        if (this.intercept) {
          for (let r = 0; r < R; r++) {
            const zb = this.bias[r];
            const nb = this.biasAcc[r];
            const wb = ftrlWeight(o, zb, nb, 0, 0);
            const nNew = nb + g[r] * g[r];
            this.bias[r] = zb + g[r] - ((Math.sqrt(nNew) - Math.sqrt(nb)) / o.alpha) * wb;
            this.biasAcc[r] = nNew;
          }
        }
        return;
      }
    }
  }

  private classWeight(k: number): number {
    const cw = this.classWeights;
    if (cw === 'none') return 1;
    if (cw === 'balanced') {
      const K = this.labelList.length;
      return this.updateCount / (K * this.classCounts[k]);
    }
    // An own key only: a label "toString" or "constructor" must not read Object.prototype's function.
    const label = this.labelList[k]!;
    return Object.hasOwn(cw, label) ? cw[label]! : 1;
  }

  /** Index of label y, adding a class (and growing storage) when it is new. */
  private classOf(y: string): number {
    const known = this.labelIndex.get(y);
    if (known !== undefined) return known;
    const K = this.labelList.length;
    if (K >= this.maxClasses) {
      throw new TokrsError(ERROR_CODES.LIMIT, `label '${y}' would be class ${K + 1}, above model.maxClasses = ${this.maxClasses}`);
    }
    if (K - 1 >= this.cap && K >= 1) this.grow(Math.max(1, this.cap * 2));
    this.labelList.push(y);
    this.labelIndex.set(y, K);
    if (K >= this.classCounts.length) {
      const c = new Float64Array(this.classCounts.length * 2);
      c.set(this.classCounts);
      this.classCounts = c;
    }
    return K;
  }

  private grow(cap: number): void {
    const old = this.cap;
    const dim = this.dim;
    const restride = (a: Float32Array, used: boolean): Float32Array => {
      if (!used) return new Float32Array(0);
      const b = new Float32Array(dim * cap);
      if (old === 1) for (let j = 0; j < dim; j++) b[j * cap] = a[j];
      else if (old > 0) for (let j = 0; j < dim; j++) b.set(a.subarray(j * old, j * old + old), j * cap);
      return b;
    };
    this.w = restride(this.w, true);
    this.acc = restride(this.acc, this.optimizer.type !== 'sgd');
    const bias = new Float64Array(cap);
    bias.set(this.bias);
    this.bias = bias;
    const biasAcc = new Float64Array(cap);
    biasAcc.set(this.biasAcc);
    this.biasAcc = biasAcc;
    this.scratch = new Float64Array(cap);
    this.cap = cap;
  }

  snapshot(): ModelSnapshot {
    const rows = this.activeRows();
    const cap = this.cap;
    const n = rows.length;
    const sgdLike = this.optimizer.type === 'sgd';
    const w = new Float32Array(n * cap);
    const acc = new Float32Array(sgdLike ? 0 : n * cap);
    for (let i = 0; i < n; i++) {
      const base = rows[i] * cap;
      if (cap === 1) {
        w[i] = this.w[base];
        if (!sgdLike) acc[i] = this.acc[base];
      } else {
        w.set(this.w.subarray(base, base + cap), i * cap);
        if (!sgdLike) acc.set(this.acc.subarray(base, base + cap), i * cap);
      }
    }
    const arrays: Record<string, SnapshotArray> = {
      rows,
      w,
      acc,
      bias: this.bias.slice(),
      biasAcc: this.biasAcc.slice(),
      classCounts: this.classCounts.slice(0, this.labelList.length),
    };
    if (this.lazy) {
      const lastA = new Float64Array(n);
      let steps = !sgdLike; // AdaGrad's clock counts steps: whole numbers, as Int32 while they fit
      for (let i = 0; i < n; i++) {
        const a = (lastA[i] = this.lastA[rows[i]]);
        if (steps && !(a >= 0 && a < 2 ** 31 && Math.floor(a) === a && !Object.is(a, -0))) steps = false;
      }
      arrays.lastA = steps ? Int32Array.from(lastA) : lastA;
      if (this.movesLastB) {
        const lastB = new Float64Array(n);
        for (let i = 0; i < n; i++) lastB[i] = this.lastB[rows[i]];
        arrays.lastB = lastB;
      }
    }
    const meta: SoftmaxSgdMeta = {
      optimizer: { ...this.optimizer },
      l1: this.l1,
      l2: this.l2,
      classWeights: typeof this.classWeights === 'string' ? this.classWeights : { ...this.classWeights },
      intercept: this.intercept,
      maxClasses: this.maxClasses,
      cap: this.cap,
      step: this.step,
      updates: this.updateCount,
      cumA: this.cumA,
      cumB: this.cumB,
      lazy: this.lazy,
    };
    return {
      kind: SOFTMAX_SGD_KIND,
      version: SOFTMAX_SGD_VERSION,
      dim: this.dim,
      hashing: { ...this.hashing },
      labels: [...this.labelList],
      meta,
      arrays,
    };
  }

  private get movesLastB(): boolean {
    return secondClockMoves(this.lazy, this.optimizer.type, this.l1);
  }

  /**
   * Features whose state is not all zeros (weights, accumulators or lazy clocks), ascending. Compared as bit
   * patterns, so a -0 counts as non-zero and a restore gives back exactly the same bits. Only the features
   * `written` marks can have state.
   */
  private activeRows(): Int32Array {
    const { dim, cap } = this;
    if (cap === 0) return new Int32Array(0);
    const w = new Int32Array(this.w.buffer, this.w.byteOffset, this.w.length);
    // SGD has no accumulators: its weights stand in for them (OR-ing them twice changes nothing).
    const acc = this.acc.length === 0 ? w : new Int32Array(this.acc.buffer, this.acc.byteOffset, this.acc.length);
    const lazy = this.lazy;
    const lastA = new Int32Array(this.lastA.buffer, this.lastA.byteOffset, 2 * this.lastA.length);
    // Where nothing moves cumB, lastB is all zeros and is not read.
    const readB = this.movesLastB;
    const lastB = new Int32Array(this.lastB.buffer, this.lastB.byteOffset, 2 * this.lastB.length);
    const written = this.written;
    let candidates = 0;
    for (let word = 0; word < written.length; word++) candidates += popcount(written[word]);
    const found = new Int32Array(Math.min(dim, candidates));
    let n = 0;
    for (let word = 0; word < written.length; word++) {
      // The set bits of this word, lowest first, so rows come out ascending.
      for (let bitsLeft = written[word]; bitsLeft !== 0; bitsLeft &= bitsLeft - 1) {
        const j = word * 32 + (31 - Math.clz32(bitsLeft & -bitsLeft));
        let bits = 0;
        if (cap === 1) bits = w[j] | acc[j];
        else for (let base = j * cap, r = base; r < base + cap; r++) bits |= w[r] | acc[r];
        if (lazy) bits |= lastA[2 * j] | lastA[2 * j + 1];
        if (readB) bits |= lastB[2 * j] | lastB[2 * j + 1];
        if (bits !== 0) found[n++] = j;
        else written[word] &= ~(1 << (j & 31)); // no state (any new state comes through scores, which marks it again)
      }
    }
    return found.slice(0, n);
  }



  /**
   * Becomes the snapshotted model, including its optimizer and regularisation settings (so training
   * resumes exactly); dim and hash settings must equal this instance's. Nothing changes if a check fails.
   */
  restore(snapshot: ModelSnapshot): void {
    checkSnapshotHeader(snapshot, { kind: SOFTMAX_SGD_KIND, version: SOFTMAX_SGD_READABLE_VERSIONS, dim: this.dim, hashing: this.hashing });
    const parsed = metaSchema.safeParse(snapshot.meta);
    if (!parsed.success) {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: bad meta: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const m = parsed.data;
    const K = snapshot.labels.length;
    const sgdLike = m.optimizer.type === 'sgd';
    const expectCap = K <= 1 ? m.cap : Math.max(m.cap, 1);
    if (m.cap < K - 1 || expectCap !== m.cap || m.lazy !== (m.optimizer.type !== 'ftrl' && (m.l1 > 0 || m.l2 > 0))) {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: inconsistent meta (cap ${m.cap} for ${K} labels)`);
    }
    const bias = snapshotArray(snapshot, 'bias', Float64Array, m.cap);
    const biasAcc = snapshotArray(snapshot, 'biasAcc', Float64Array, m.cap);
    const counts = snapshotArray(snapshot, 'classCounts', Float64Array, K);
    // Version 1 is dense; versions 2 and 3 list their rows and hold only theirs (see SOFTMAX_SGD_VERSION).
    const rows = snapshot.version === 1 ? undefined : snapshotRows(snapshot, this.dim, m.cap);
    const stored = rows === undefined ? this.dim : rows.length;
    const w = expand(snapshotArray(snapshot, 'w', Float32Array, m.cap === 0 ? 0 : stored * m.cap), rows, m.cap === 0 ? 0 : this.dim, m.cap);
    const acc = expand(snapshotArray(snapshot, 'acc', Float32Array, sgdLike || m.cap === 0 ? 0 : stored * m.cap), rows, sgdLike || m.cap === 0 ? 0 : this.dim, m.cap);
    // Version 3 may hold AdaGrad's step clock as Int32, and leaves out the second clock where nothing moves it.
    const v3 = snapshot.version >= 3;
    const stepClock = m.lazy && v3 && !sgdLike && snapshot.arrays.lastA instanceof Int32Array;
    const lastBLeftOut = m.lazy && v3 && !secondClockMoves(m.lazy, m.optimizer.type, m.l1) && snapshot.arrays.lastB === undefined;
    const clock = (name: string): Float64Array => expand(snapshotArray(snapshot, name, Float64Array, stored), rows, this.dim, 1);
    const lastA = !m.lazy ? new Float64Array(0) : stepClock ? expand(Float64Array.from(snapshotArray(snapshot, 'lastA', Int32Array, stored)), rows, this.dim, 1) : clock('lastA');
    const lastB = !m.lazy ? new Float64Array(0) : lastBLeftOut ? new Float64Array(this.dim) : clock('lastB');
    // A left-out clock is all zeros, which is right only where its running total never moved.
    if (lastBLeftOut && m.cumB !== 0) throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: meta.cumB is ${m.cumB} but lastB is left out`);
    // AdaGrad's clock counts steps (never below 0); SGD's sums logs of decays (never above 0).
    if (m.lazy && !sgdLike) for (let i = 0; i < lastA.length; i++) if (!(lastA[i] >= 0)) throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: lastA[${i}] is ${lastA[i]}, a step count`);
    for (const [name, a] of [['w', w], ['acc', acc], ['bias', bias], ['biasAcc', biasAcc], ['lastA', lastA], ['lastB', lastB]] as const) {
      for (let i = 0; i < a.length; i++) {
        if (!Number.isFinite(a[i])) throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: ${name}[${i}] is ${a[i]}`);
      }
    }
    const optimizer = (() => {
      try {
        return checkOptimizer(m.optimizer);
      } catch (e) {
        throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: ${(e as Error).message}`);
      }
    })();
    // All checks passed: replace the state (copies, so the snapshot stays independent of the live model;
    // `expand` has copied w, acc, lastA and lastB already).
    this.optimizer = optimizer;
    this.l1 = m.l1;
    this.l2 = m.l2;
    this.classWeights = m.classWeights;
    this.intercept = m.intercept;
    this.maxClasses = m.maxClasses;
    this.cap = m.cap;
    this.w = w;
    this.acc = acc;
    this.bias = bias.slice();
    this.biasAcc = biasAcc.slice();
    this.lazy = m.lazy;
    this.lastA = lastA;
    this.lastB = lastB;
    // A dense (version 1) snapshot lists no rows: mark every feature; the next snapshot checks them all once
    // and unmarks those without state.
    this.written = new Uint32Array(Math.ceil(this.dim / 32));
    if (rows === undefined) for (let j = 0; j < this.dim; j++) mark(this.written, j);
    else for (let i = 0; i < rows.length; i++) mark(this.written, rows[i]);
    this.cumA = m.cumA;
    this.cumB = m.cumB;
    this.step = m.step;
    this.updateCount = m.updates;
    this.scratch = new Float64Array(m.cap);
    this.caught.x = undefined;
    this.labelList.length = 0;
    this.labelIndex.clear();
    for (const l of snapshot.labels) {
      this.labelIndex.set(l, this.labelList.length);
      this.labelList.push(l);
    }
    this.classCounts = new Float64Array(Math.max(4, K * 2));
    this.classCounts.set(counts);
  }

  dispose(): void {}
}

/** The `rows` of a version-2 snapshot: Int32, strictly increasing, within [0, dim); none when there are no weights. */
function snapshotRows(snapshot: ModelSnapshot, dim: number, cap: number): Int32Array {
  const rows = snapshot.arrays.rows;
  const fail = (what: string): never => {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: array 'rows' ${what}`);
  };
  if (!(rows instanceof Int32Array)) return fail(`must be an Int32Array, got ${rows === undefined ? 'nothing' : rows.constructor.name}`);
  if (cap === 0 && rows.length > 0) fail(`must be empty for a model without weight rows, got ${rows.length}`);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] < 0 || rows[i] >= dim || (i > 0 && rows[i] <= rows[i - 1])) fail(`must be increasing features in [0, ${dim}), got ${rows[i]} at ${i}`);
  }
  return rows;
}

/** The dense array of `length` × stride values whose listed rows are `values` (a copy of `values` when dense). */
function expand<T extends Float32Array | Float64Array>(values: T, rows: Int32Array | undefined, length: number, stride: number): T {
  if (rows === undefined) return values.slice() as T;
  const out = new (values.constructor as new (n: number) => T)(length * stride);
  if (length === 0) return out; // an unused array (SGD keeps no accumulators)
  if (stride === 1) for (let i = 0; i < rows.length; i++) out[rows[i]] = values[i];
  else for (let i = 0; i < rows.length; i++) out.set(values.subarray(i * stride, (i + 1) * stride), rows[i] * stride);
  return out;
}

/** Sets feature j's bit. */
function mark(bits: Uint32Array, j: number): void {
  bits[j >>> 5] |= 1 << (j & 31);
}

/**
 * Whether anything moves `cumB`, the second lazy clock: only SGD's L1 does (AdaGrad's L1 follows from
 * `cumA`). Elsewhere `lastB` stays all zeros: it is neither read, written nor stored (format 3).
 */
export function secondClockMoves(lazy: boolean, optimizer: string, l1: number): boolean {
  return lazy && optimizer === 'sgd' && l1 > 0;
}

/** The number of set bits of a 32-bit word. */
function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** p = softmax(0, s_0, …, s_{R-1}); s is left untouched. */
function softmaxPivot(s: Float64Array, R: number, p: Float64Array): void {
  let max = 0;
  for (let r = 0; r < R; r++) if (s[r] > max) max = s[r];
  let sum = (p[0] = Math.exp(-max));
  for (let r = 0; r < R; r++) sum += p[r + 1] = Math.exp(s[r] - max);
  for (let k = 0; k <= R; k++) p[k] /= sum;
}

/** Soft-threshold toward zero by `by` (>= 0): the L1 proximal step. */
function truncate(w: number, by: number): number {
  if (by <= 0) return w;
  return w > by ? w - by : w < -by ? w + by : 0;
}

function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw configError(`model.${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}

function checkClassWeights(cw: ClassWeights): ClassWeights {
  if (cw === 'none' || cw === 'balanced') return cw;
  if (cw === null || typeof cw !== 'object') throw configError(`model.classWeights must be 'none', 'balanced' or a map of label to weight`);
  for (const [label, v] of Object.entries(cw)) {
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw configError(`model.classWeights.${label} must be a finite number >= 0, got ${String(v)}`);
  }
  return { ...cw };
}
