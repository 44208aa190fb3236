import { ERROR_CODES, TokrsError } from '../errors.js';
import type { SparseVector } from '../features/sparse-vector.js';
import type { HashSettings, ModelSnapshot } from './classifier.js';

/**
 * Checks the SparseVector invariants a learner relies on. O(nnz): cheap next to the update itself, and it
 * is what keeps one bad message from writing NaN or out-of-range weights into the model.
 */
export function checkVector(x: SparseVector, dim: number): void {
  if (x === null || typeof x !== 'object' || !(x.indices instanceof Int32Array) || !(x.values instanceof Float32Array)) {
    throw new TokrsError(ERROR_CODES.FEATURES, 'feature vector must have Int32Array indices and Float32Array values');
  }
  if (x.dim !== dim) {
    throw new TokrsError(
      ERROR_CODES.FEATURES,
      `feature vector has dim ${x.dim} but the model was built for ${dim}: the features.bits of the topology and of the model differ`,
    );
  }
  const { indices, values } = x;
  const n = indices.length;
  if (values.length !== n) {
    throw new TokrsError(ERROR_CODES.FEATURES, `feature vector has ${n} indices but ${values.length} values`);
  }
  let prev = -1;
  for (let k = 0; k < n; k++) {
    const j = indices[k];
    if (j <= prev || j >= dim) {
      throw new TokrsError(
        ERROR_CODES.FEATURES,
        j >= dim ? `feature index ${j} is outside [0, ${dim})` : `feature indices must be sorted and unique (index ${j} after ${prev})`,
      );
    }
    prev = j;
    const v = values[k];
    // v - v is 0 for finite numbers and NaN for NaN and ±Infinity.
    if (v - v !== 0) throw new TokrsError(ERROR_CODES.FEATURES, `feature ${j} has non-finite value ${v}`);
  }
}

export function checkLabel(y: unknown): asserts y is string {
  if (typeof y !== 'string') {
    throw new TokrsError(ERROR_CODES.LEARN, `label must be a string, got ${y === null ? 'null' : typeof y}`);
  }
}

export function checkWeight(weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new TokrsError(ERROR_CODES.LEARN, `example weight must be a finite number >= 0, got ${String(weight)}`);
  }
}

export function sameHashing(a: HashSettings, b: HashSettings): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** The checks every `restore` starts with; throws SNAPSHOT with what differs and what to do. */
export function checkSnapshotHeader(
  snapshot: ModelSnapshot,
  expected: { kind: string; version: number | readonly number[]; dim: number; hashing: HashSettings },
): void {
  const fail = (what: string): never => {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot restore model snapshot: ${what}`);
  };
  if (snapshot === null || typeof snapshot !== 'object') fail('not a snapshot object');
  if (snapshot.kind !== expected.kind) fail(`it is of kind '${String(snapshot.kind)}', this model is '${expected.kind}'`);
  const versions: readonly number[] = typeof expected.version === 'number' ? [expected.version] : expected.version;
  if (!versions.includes(snapshot.version)) {
    const supported = versions.length === 1 ? `the supported version ${versions[0]}` : `one of the supported versions ${versions.join(', ')}`;
    fail(`format version ${String(snapshot.version)} is not ${supported}; retrain or convert it`);
  }
  if (snapshot.dim !== expected.dim) {
    fail(`hash size ${String(snapshot.dim)} differs from the model's ${expected.dim}; use the features.bits it was trained with`);
  }
  if (!sameHashing(snapshot.hashing ?? {}, expected.hashing)) {
    fail(`hash settings ${JSON.stringify(snapshot.hashing)} differ from ${JSON.stringify(expected.hashing)}`);
  }
  if (!Array.isArray(snapshot.labels) || !snapshot.labels.every((l) => typeof l === 'string')) fail('labels must be strings');
  if (new Set(snapshot.labels).size !== snapshot.labels.length) fail('labels are not unique');
}

export function snapshotArray<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(
  snapshot: ModelSnapshot,
  name: string,
  type: new (n: number) => T,
  length: number,
): T {
  const a = snapshot.arrays[name];
  if (!(a instanceof type) || a.length !== length) {
    throw new TokrsError(
      ERROR_CODES.SNAPSHOT,
      `cannot restore model snapshot: array '${name}' must be a ${type.name} of length ${length}, got ${a === undefined ? 'nothing' : `${a.constructor.name}(${a.length})`}`,
    );
  }
  return a;
}
