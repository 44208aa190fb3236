import * as tf from '@tensorflow/tfjs';
import { ERROR_CODES, TokrsError, configError } from '../errors.js';
import type { SparseVector } from '../features/sparse-vector.js';
import type { HashSettings, LabelledVector, ModelSnapshot, OnlineClassifier } from './classifier.js';
import { argmax } from './classifier.js';
import { TFJS_MAX_DIM } from './config.js';
import { checkLabel, checkSnapshotHeader, checkVector, checkWeight, snapshotArray } from './validate.js';

export const TFJS_KIND = 'tfjs';
export const TFJS_VERSION = 1;

export interface TfjsClassifierOptions {
  readonly dim: number;
  readonly hashing?: HashSettings;
  /** Units of the hidden ReLU layers; [] is a linear softmax model. */
  readonly hidden?: readonly number[];
  /** Plain SGD learning rate (stateless, so the snapshot holds all of the optimizer's state). */
  readonly lr?: number;
  /** Seed of the Glorot initialisers, for reproducible runs. */
  readonly seed?: number;
  readonly maxClasses?: number;
}

export type TfjsBackend = 'tensorflow' | 'wasm' | 'cpu';

/**
 * Picks the fastest backend available: tfjs-node (native TensorFlow, an optional dependency) when it is
 * installed, else WebAssembly, else the plain JS cpu backend. Call once before building a TfjsClassifier.
 */
export async function ensureTfjsBackend(prefer?: TfjsBackend): Promise<TfjsBackend> {
  const order: TfjsBackend[] = prefer ? [prefer] : ['tensorflow', 'wasm', 'cpu'];
  for (const name of order) {
    try {
      if (name === 'tensorflow') {
        // Optional dependency: a string variable keeps TypeScript from requiring its types.
        const pkg = '@tensorflow/tfjs-node';
        await import(pkg);
      } else if (name === 'wasm') {
        await import('@tensorflow/tfjs-backend-wasm');
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // Not installed or failed to initialise: try the next one.
    }
  }
  throw configError(`no tfjs backend could be initialised (tried ${order.join(', ')})`);
}

/**
 * The `OnlineClassifier` interface over a small tfjs model: dense ReLU layer(s) on the hashed input and a
 * softmax output with one unit per label. A new label rebuilds the model with one more output unit, the
 * old weights copied and the new column zero, so earlier classes keep what they learned.
 *
 * Everything is synchronous (`optimizer.minimize`, `dataSync`), so it fits the same operator as SoftmaxSgd.
 */
export class TfjsClassifier implements OnlineClassifier {
  readonly kind = TFJS_KIND;
  readonly dim: number;
  readonly hashing: HashSettings;
  private readonly hidden: number[];
  private readonly lr: number;
  private readonly seed: number;
  readonly maxClasses: number;
  private readonly optimizer: tf.Optimizer;
  private readonly labelList: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private model: tf.LayersModel | undefined;
  private updateCount = 0;

  constructor(options: TfjsClassifierOptions) {
    if (!Number.isInteger(options.dim) || options.dim < 1 || options.dim > TFJS_MAX_DIM) {
      throw configError(`the tfjs model takes at most 2^14 input buckets (features.bits <= 14), got dim ${String(options.dim)}`);
    }
    this.dim = options.dim;
    this.hashing = { ...(options.hashing ?? {}) };
    this.hidden = [...(options.hidden ?? [])];
    if (!this.hidden.every((h) => Number.isInteger(h) && h > 0)) throw configError(`model.tfjs.hidden must be positive integers`);
    this.lr = options.lr ?? 0.05;
    if (!(this.lr > 0)) throw configError(`model.tfjs.lr must be > 0`);
    this.seed = options.seed ?? 42;
    this.maxClasses = options.maxClasses ?? 1024;
    this.optimizer = tf.train.sgd(this.lr);
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
    if (K <= 1) return K === 0 ? new Float64Array(0) : Float64Array.of(1);
    const model = this.model!;
    const p = tf.tidy(() => (model.predict(this.dense([x])) as tf.Tensor).dataSync());
    return Float64Array.from(p);
  }

  predict(x: SparseVector): string | undefined {
    const k = argmax(this.predictProba(x));
    return k < 0 ? undefined : this.labelList[k];
  }

  learn(x: SparseVector, y: string, weight = 1): void {
    this.learnMany([{ features: x, label: y, weight }]);
  }

  /** One SGD step on the weighted mean loss of the batch. */
  learnMany(batch: readonly LabelledVector[]): void {
    for (const item of batch) {
      checkVector(item.features, this.dim);
      checkLabel(item.label);
      checkWeight(item.weight ?? 1);
    }
    if (batch.length === 0) return;
    const ys = batch.map((item) => this.classOf(item.label));
    this.updateCount += batch.length;
    const K = this.labelList.length;
    if (K < 2) return;
    const model = this.model!;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    tf.tidy(() => {
      const x = this.dense(batch.map((b) => b.features));
      const y = tf.oneHot(tf.tensor1d(ys, 'int32'), K).toFloat();
      const w = tf.tensor1d(batch.map((b) => b.weight ?? 1));
      this.optimizer.minimize(
        () => {
          const p = (model.apply(x, { training: true }) as tf.Tensor).clipByValue(1e-7, 1);
          return tf.mean(tf.mul(tf.neg(tf.sum(tf.mul(y, tf.log(p)), 1)), w)) as tf.Scalar;
        },
        false,
        vars,
      );
    });
  }

  private dense(xs: readonly SparseVector[]): tf.Tensor2D {
    const data = new Float32Array(xs.length * this.dim);
    xs.forEach((x, row) => {
      for (let k = 0; k < x.indices.length; k++) data[row * this.dim + x.indices[k]] = x.values[k];
    });
    return tf.tensor2d(data, [xs.length, this.dim]);
  }

  private classOf(y: string): number {
    const known = this.labelIndex.get(y);
    if (known !== undefined) return known;
    const K = this.labelList.length;
    if (K >= this.maxClasses) throw new TokrsError(ERROR_CODES.LIMIT, `label '${y}' would be class ${K + 1}, above model.maxClasses = ${this.maxClasses}`);
    this.labelList.push(y);
    this.labelIndex.set(y, K);
    this.rebuild(K + 1);
    return K;
  }

  /** Builds a model with `classes` outputs, keeping the current weights (new output column zero). */
  private rebuild(classes: number, weights?: tf.Tensor[]): void {
    const model = buildModel(this.dim, this.hidden, classes, this.seed);
    const old = weights ?? this.model?.getWeights();
    if (old !== undefined && old.length > 0) {
      const fresh = model.getWeights();
      const merged = fresh.map((f, i) => {
        const o = old[i];
        if (o.shape.join() === f.shape.join()) return o;
        // The output kernel [h, K-1] or bias [K-1]: pad the new class with zeros.
        const pad: [number, number][] = f.shape.map((d, a) => [0, d - o.shape[a]]);
        return tf.pad(o, pad);
      });
      model.setWeights(merged);
      merged.forEach((t, i) => t !== old[i] && t.dispose());
    }
    this.model?.dispose();
    this.model = model;
  }

  snapshot(): ModelSnapshot {
    const model = this.model;
    const specs = model ? model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] })) : [];
    const parts = model ? model.getWeights().map((t) => t.dataSync() as Float32Array) : [];
    const total = parts.reduce((s, p) => s + p.length, 0);
    const weights = new Float32Array(total);
    let at = 0;
    for (const p of parts) {
      weights.set(p, at);
      at += p.length;
    }
    return {
      kind: TFJS_KIND,
      version: TFJS_VERSION,
      dim: this.dim,
      hashing: { ...this.hashing },
      labels: [...this.labelList],
      meta: {
        hidden: [...this.hidden],
        lr: this.lr,
        seed: this.seed,
        updates: this.updateCount,
        weightSpecs: specs,
        modelTopology: model ? (model.toJSON(null, false) as object) : null,
      },
      arrays: { weights },
    };
  }

  restore(snapshot: ModelSnapshot): void {
    checkSnapshotHeader(snapshot, { kind: TFJS_KIND, version: TFJS_VERSION, dim: this.dim, hashing: this.hashing });
    const meta = snapshot.meta as { hidden?: unknown; updates?: unknown };
    if (JSON.stringify(meta.hidden) !== JSON.stringify(this.hidden)) {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore tfjs snapshot: hidden layers ${JSON.stringify(meta.hidden)} differ from ${JSON.stringify(this.hidden)}`);
    }
    if (!Number.isInteger(meta.updates)) throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore tfjs snapshot: bad updates counter`);
    const K = snapshot.labels.length;
    const probe = K > 0 ? buildModel(this.dim, this.hidden, K, this.seed) : undefined;
    const shapes = probe ? probe.weights.map((w) => w.shape as number[]) : [];
    probe?.dispose();
    const total = shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    const flat = snapshotArray(snapshot, 'weights', Float32Array, total);
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isFinite(flat[i])) throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore tfjs snapshot: weight ${i} is ${flat[i]}`);
    }
    let at = 0;
    const tensors = shapes.map((sh) => {
      const n = sh.reduce((a, b) => a * b, 1);
      const t = tf.tensor(flat.slice(at, at + n), sh);
      at += n;
      return t;
    });
    this.labelList.length = 0;
    this.labelIndex.clear();
    snapshot.labels.forEach((l, k) => {
      this.labelList.push(l);
      this.labelIndex.set(l, k);
    });
    this.updateCount = meta.updates as number;
    if (K === 0) {
      this.model?.dispose();
      this.model = undefined;
    } else {
      this.model?.dispose();
      this.model = undefined;
      this.rebuild(K, tensors);
    }
    tensors.forEach((t) => t.dispose());
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
    this.optimizer.dispose();
  }
}

function buildModel(dim: number, hidden: readonly number[], classes: number, seed: number): tf.LayersModel {
  const model = tf.sequential({ name: 'tokrs_tfjs' });
  hidden.forEach((units, i) =>
    model.add(
      tf.layers.dense({
        name: `hidden${i}`,
        units,
        activation: 'relu',
        inputShape: i === 0 ? [dim] : undefined,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
      }),
    ),
  );
  model.add(
    tf.layers.dense({
      name: 'output',
      units: classes,
      activation: 'softmax',
      inputShape: hidden.length === 0 ? [dim] : undefined,
      // Zero output layer: a new class starts with no opinion, and a rebuild pads with the same zeros.
      kernelInitializer: 'zeros',
    }),
  );
  return model;
}

/**
 * A tfjs IO handler that serves a TfjsClassifier snapshot, so it loads with `tf.loadLayersModel`:
 *
 * ```ts
 * const model = await tf.loadLayersModel(tfjsSnapshotHandler(classifier.snapshot()));
 * ```
 */
export function tfjsSnapshotHandler(snapshot: ModelSnapshot): tf.io.IOHandler {
  return {
    load: async () => {
      if (snapshot.kind !== TFJS_KIND || snapshot.version !== TFJS_VERSION) {
        throw new TokrsError(ERROR_CODES.SNAPSHOT, `not a tfjs snapshot of version ${TFJS_VERSION}: ${snapshot.kind} v${snapshot.version}`);
      }
      const meta = snapshot.meta as { modelTopology: object | null; weightSpecs: { name: string; shape: number[] }[] };
      if (meta.modelTopology === null) throw new TokrsError(ERROR_CODES.SNAPSHOT, 'the tfjs snapshot has no model yet (no label was learned)');
      const weights = snapshot.arrays.weights as Float32Array;
      const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
      return {
        modelTopology: meta.modelTopology,
        weightSpecs: meta.weightSpecs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' as const })),
        weightData,
      };
    },
  };
}
