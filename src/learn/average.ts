import { ERROR_CODES, TokrsError, configError, describeError } from '../errors.js';
import type { ModelSnapshot, SnapshotArray } from './classifier.js';
import { SOFTMAX_SGD_KIND, SOFTMAX_SGD_VERSION, SoftmaxSgd, secondClockMoves, type SoftmaxSgdMeta } from './softmax-sgd.js';
import { ftrlWeight } from './optimizers.js';
import { sameHashing } from './validate.js';

/**
 * The weighted average of SoftmaxSgd models, for processes that learn on different partitions of one
 * stream and periodically share their snapshots (parameter mixing: McDonald, Hall & Mann 2010; Zinkevich
 * et al. 2010). The result is a SoftmaxSgd snapshot that `restore`s and keeps learning.
 *
 * ```ts
 * const mixed = averageModels([mine.snapshot(), ...theirs]); // weighted by examples learned
 * mine.restore(mixed);
 * ```
 *
 * What it means, and why:
 *
 * - **Weights**: by default each model's number of examples learned (`meta.updates`), so a process that
 *   saw twice the data counts twice; equal when no model has learned anything. Explicit `weights` must be
 *   finite, >= 0 and not all 0; only their ratios matter.
 * - **Labels**: the union, in the order of the first model, then the new labels of the next ones; the
 *   caller passes its own model first so its pivot (class 0) stays the same.
 * - **Scores, not rows**: SoftmaxSgd scores class 0 (its pivot) at 0 and class k at b_k + w_k·x, so row k
 *   of two models means different things when their first labels differ. Each model is first extended to
 *   the union of labels as SoftmaxSgd itself extends a model (a label it never saw gets a zero row, i.e.
 *   its own pivot's score), then re-expressed relative to the common pivot P (w'_k = w_k - w_P, the same
 *   for biases; a softmax does not change when all scores move by the same amount), and then averaged.
 *   So the averaged model scores every class with the weighted mean of the models' scores, whatever order
 *   each model met the labels in, and averaging a model with itself gives it back.
 * - **Lazy regularisation**: a stored weight still owes the L1/L2 decay of the steps since its feature was
 *   last seen; every model is caught up first (`SoftmaxSgd.catchUp`), and the result has no pending decay.
 * - **Optimizer state**: an accumulator (AdaGrad's sum of squared gradients, FTRL's n) is the weighted
 *   mean, not the sum: the result of averaging is averaged again at the next round, and a sum would count
 *   the shared history once more each time (and averaging a model with itself would halve its step sizes).
 *   The gradient of class k's score is p_k - [y = k] in any parametrisation, so a class's accumulator keeps
 *   its meaning across pivots; a model's own pivot has none, and gets the largest of its other classes' at
 *   that feature (exact for two classes, where the two gradients are opposite; otherwise a conservative,
 *   smaller step). A class a model never saw has accumulated nothing from it (0).
 * - **FTRL**: its weight is a nonlinear closed form of z and n, so averaging z would not average the
 *   weights. n is averaged as above and z is solved from the closed form so that the weight is exactly the
 *   averaged one; where that weight is 0, z is the mean z (of the models that share the common pivot)
 *   clipped into [-l1, l1], which keeps a model averaged with itself identical.
 * - **Counters**: class counts, `updates` and the step (which drives SGD's invscaling rate) are weighted
 *   means, for the same reason as the accumulators.
 *
 * Refuses (TOKRS_ERR_SNAPSHOT) models of another kind, dim, hash settings, optimizer, regularisation,
 * class weights, intercept or maxClasses: their weights do not mean the same thing. A union of labels
 * above maxClasses is TOKRS_ERR_LIMIT.
 */
export function averageModels(models: readonly ModelSnapshot[], weights?: readonly number[]): ModelSnapshot {
  if (models.length === 0) throw configError('averageModels needs at least one model snapshot');
  const settled = models.map((m, i) => settle(m, i, models[0]));
  const share = shares(settled, weights);
  const meta = settled[0].meta;
  const o = meta.optimizer;

  const labels: string[] = [];
  for (const m of settled) for (const l of m.labels) if (!labels.includes(l)) labels.push(l);
  if (labels.length > meta.maxClasses) {
    throw new TokrsError(ERROR_CODES.LIMIT, `cannot average model snapshots: together they have ${labels.length} labels, above model.maxClasses = ${meta.maxClasses}`);
  }
  const K = labels.length;
  const R = Math.max(0, K - 1);
  const rows = R === 0 ? new Int32Array(0) : unionRows(settled.map((m) => m.rows));
  const n = rows.length;
  const sgdLike = o.type === 'sgd';

  const w = new Float64Array(n * R);
  const acc = new Float64Array(sgdLike ? 0 : n * R);
  const zMean = new Float64Array(o.type === 'ftrl' ? n * R : 0);
  const bias = new Float64Array(R);
  const biasAcc = new Float64Array(R);
  const counts = new Float64Array(K);
  let step = 0;
  let updates = 0;

  for (let i = 0; i < settled.length; i++) {
    const m = settled[i];
    const a = share[i];
    step += a * m.meta.step;
    updates += a * m.meta.updates;
    // Each union class's row in this model's own frame; -1 scores 0 there (its pivot, or a label it never saw).
    const own = m.labels.map((l) => labels.indexOf(l));
    const rowOf = labels.map((l) => m.labels.indexOf(l) - 1);
    const ownPivot = own.length > 0 ? own[0] : -1;
    const samePivot = ownPivot === 0;
    for (let k = 0; k < m.labels.length; k++) counts[own[k]] += a * m.classCounts[k];
    const capI = m.meta.cap;
    const Ri = m.labels.length - 1;
    const weightAt = (base: number, r: number): number => (r < 0 ? 0 : m.weight(base + r));
    const biasAt = (r: number): number => (r < 0 ? 0 : m.biasWeight(r));
    for (let u = 1; u < K; u++) bias[u - 1] += a * (biasAt(rowOf[u]) - biasAt(rowOf[0]));
    if (!sgdLike) {
      for (let u = 1; u < K; u++) biasAcc[u - 1] += a * accumulatorOf(m.biasAcc, 0, rowOf[u], u === ownPivot, Ri);
    }
    if (Ri < 1) continue; // no weight rows
    let p = 0;
    for (let t = 0; t < m.rows.length; t++) {
      while (rows[p] !== m.rows[t]) p++;
      const base = t * capI;
      const pivotWeight = weightAt(base, rowOf[0]);
      for (let u = 1; u < K; u++) {
        const at = p * R + u - 1;
        w[at] += a * (weightAt(base, rowOf[u]) - pivotWeight);
        if (!sgdLike) acc[at] += a * accumulatorOf(m.acc, base, rowOf[u], u === ownPivot, Ri);
        if (samePivot && rowOf[u] >= 0 && o.type === 'ftrl') zMean[at] += a * m.w[base + rowOf[u]];
      }
    }
  }

  const wOut = new Float32Array(n * R);
  const accOut = Float32Array.from(acc);
  if (o.type === 'ftrl') {
    const { l1, l2 } = meta;
    for (let i = 0; i < wOut.length; i++) {
      // Solves w = -(z - sign(z)·l1) / ((beta + sqrt(n)) / alpha + l2) for z, with n as it will be stored.
      const c = (o.beta + Math.sqrt(accOut[i])) / o.alpha + l2;
      wOut[i] = w[i] === 0 ? Math.min(l1, Math.max(-l1, zMean[i])) : -w[i] * c - Math.sign(w[i]) * l1;
    }
    for (let r = 0; r < R; r++) bias[r] = -bias[r] * ((o.beta + Math.sqrt(biasAcc[r])) / o.alpha);
  } else {
    wOut.set(w);
  }

  const arrays: Record<string, SnapshotArray> = { rows, w: wOut, acc: accOut, bias, biasAcc, classCounts: counts };
  if (meta.lazy) {
    // Every model was caught up and every clock restarted at 0 (see `settle`): nothing is pending.
    arrays.lastA = new Float64Array(n);
    if (secondClockMoves(meta.lazy, meta.optimizer.type, meta.l1)) arrays.lastB = new Float64Array(n);
  }
  const out: SoftmaxSgdMeta = { ...meta, cap: R, step: Math.round(step), updates: Math.round(updates), cumA: 0, cumB: 0 };
  return { kind: SOFTMAX_SGD_KIND, version: SOFTMAX_SGD_VERSION, dim: models[0].dim, hashing: { ...models[0].hashing }, labels, meta: out, arrays };
}

/** A model's snapshot after `catchUp` (sparse: version 2 or later), no pending decay, clocks at 0, with its weights readable. */
interface Settled {
  readonly labels: readonly string[];
  readonly meta: SoftmaxSgdMeta;
  readonly rows: Int32Array;
  /** SGD/AdaGrad: weights; FTRL: z. rows × cap. */
  readonly w: Float32Array;
  /** AdaGrad: sums of squared gradients; FTRL: n; SGD: empty. */
  readonly acc: Float32Array;
  readonly biasAcc: Float64Array;
  readonly classCounts: Float64Array;
  /** The weight the model predicts with at w[i] (FTRL's closed form of z and n). */
  weight(i: number): number;
  biasWeight(r: number): number;
}

/** Checks snapshot i against the first one and returns it caught up; every refusal says which and why. */
function settle(snapshot: ModelSnapshot, i: number, first: ModelSnapshot): Settled {
  const fail = (what: string): never => {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot average model snapshots: snapshot ${i} ${what}`);
  };
  if (snapshot === null || typeof snapshot !== 'object') fail('is not a snapshot object');
  if (snapshot.kind !== SOFTMAX_SGD_KIND) fail(`is of kind '${String(snapshot.kind)}'; only ${SOFTMAX_SGD_KIND} models can be averaged`);
  if (snapshot.dim !== first.dim) fail(`has hash size ${String(snapshot.dim)}, snapshot 0 has ${first.dim}; models of different features.bits cannot be averaged`);
  if (!sameHashing(snapshot.hashing ?? {}, first.hashing ?? {})) {
    fail(`has hash settings ${JSON.stringify(snapshot.hashing)}, snapshot 0 has ${JSON.stringify(first.hashing)}`);
  }
  // Restoring checks everything else (version, meta, array shapes, finite values) and reads version 1 too.
  const model = new SoftmaxSgd({ dim: first.dim, hashing: first.hashing });
  try {
    model.restore(snapshot);
  } catch (e) {
    fail(`is not a valid model: ${describeError(e)}`);
  }
  model.catchUp();
  const s = model.snapshot();
  const meta = s.meta as SoftmaxSgdMeta;
  const arrays = s.arrays as Record<string, Float32Array | Float64Array | Int32Array>;
  const w = arrays.w as Float32Array;
  const acc = arrays.acc as Float32Array;
  const bias = arrays.bias as Float64Array;
  const biasAcc = arrays.biasAcc as Float64Array;
  const o = meta.optimizer;
  return {
    labels: s.labels,
    meta,
    rows: arrays.rows as Int32Array,
    w,
    acc,
    biasAcc,
    classCounts: arrays.classCounts as Float64Array,
    // The weights the model predicts with: for FTRL, from z and n (`ftrlWeight`, as SoftmaxSgd does).
    weight: o.type === 'ftrl' ? (j) => ftrlWeight(o, w[j]!, acc[j]!, meta.l1, meta.l2) : (j) => w[j]!,
    biasWeight: o.type === 'ftrl' ? (r) => ftrlWeight(o, bias[r]!, biasAcc[r]!, 0, 0) : (r) => bias[r]!,
  };
}

/** The weights as shares summing to 1; see `averageModels`. Also refuses models with different settings. */
function shares(settled: readonly Settled[], weights: readonly number[] | undefined): number[] {
  const first = settled[0].meta;
  for (let i = 1; i < settled.length; i++) {
    const m = settled[i].meta;
    for (const [name, a, b] of [
      ['optimizer', m.optimizer, first.optimizer],
      ['l1', m.l1, first.l1],
      ['l2', m.l2, first.l2],
      ['classWeights', m.classWeights, first.classWeights],
      ['intercept', m.intercept, first.intercept],
      ['maxClasses', m.maxClasses, first.maxClasses],
    ] as const) {
      if (canonical(a) !== canonical(b)) {
        throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot average model snapshots: snapshot ${i} has model.${name} ${canonical(a)}, snapshot 0 has ${canonical(b)}`);
      }
    }
  }
  if (weights !== undefined) {
    if (weights.length !== settled.length) throw configError(`averageModels: ${weights.length} weights for ${settled.length} models`);
    weights.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw configError(`averageModels: weight ${i} must be a finite number >= 0, got ${String(v)}`);
    });
  }
  const raw = weights ?? settled.map((m) => m.meta.updates);
  const total = raw.reduce((s, v) => s + v, 0);
  if (total > 0) return raw.map((v) => v / total);
  if (weights !== undefined) throw configError('averageModels: the weights are all 0');
  return raw.map(() => 1 / raw.length);
}

/** JSON with sorted keys, so settings compare equal whatever order their fields were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

/**
 * A class's accumulator in one model at one feature (`base`): its row's, or, for the model's own pivot,
 * the largest of its rows' (see `averageModels`), or 0 for a label the model never saw.
 */
function accumulatorOf(a: Float32Array | Float64Array, base: number, row: number, isOwnPivot: boolean, R: number): number {
  if (row >= 0) return a[base + row];
  if (!isOwnPivot) return 0;
  let max = 0;
  for (let r = 0; r < R; r++) if (a[base + r] > max) max = a[base + r];
  return max;
}

/** The sorted union of increasing Int32 lists. */
function unionRows(lists: readonly Int32Array[]): Int32Array {
  const all = new Int32Array(lists.reduce((s, l) => s + l.length, 0));
  let at = 0;
  for (const l of lists) {
    all.set(l, at);
    at += l.length;
  }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
  return all.slice(0, n);
}
