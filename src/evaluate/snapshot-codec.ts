import { ERROR_CODES, TokrsError } from '../errors.js';
import { EVALUATOR_SNAPSHOT_VERSION, type EvaluatorSnapshot } from './evaluator.js';

/**
 * Bytes of an `EvaluatorSnapshot`: UTF-8 JSON. The snapshot is already plain data with every float finite,
 * and JSON prints each double in its shortest exact form, so the round trip is bit-exact; windows are
 * stored as label-indexed columns, which keeps even a busy 60 s time window to a few hundred kB.
 * `Evaluator.restore` does the full validation; decoding checks only that the bytes are an evaluator
 * snapshot of a version this build reads.
 *
 * ```ts
 * const bytes = encodeEvaluatorSnapshot(handle.evaluator!.snapshot());
 * evaluator.restore(decodeEvaluatorSnapshot(bytes));
 * ```
 */
export function encodeEvaluatorSnapshot(snapshot: EvaluatorSnapshot): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(snapshot));
}

export function decodeEvaluatorSnapshot(bytes: Uint8Array): EvaluatorSnapshot {
  const fail = (what: string): never => {
    throw new TokrsError(ERROR_CODES.SNAPSHOT, `cannot decode evaluator snapshot: ${what}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(`not UTF-8 JSON (${(e as Error).message}); truncated or not an evaluator snapshot?`);
  }
  const s = value as Partial<EvaluatorSnapshot> | null;
  if (s === null || typeof s !== 'object' || s.kind !== 'evaluator') return fail(`kind is ${String(s?.kind)}, expected "evaluator"`);
  if (s.version !== EVALUATOR_SNAPSHOT_VERSION) return fail(`version ${String(s.version)}, this build reads ${EVALUATOR_SNAPSHOT_VERSION}`);
  return s as EvaluatorSnapshot;
}
