/** Shared by the fuzz tests: fixed seeds (reproducible in CI) and the "typed rejection" check. */
import assert from 'node:assert/strict';
import { ERROR_CODES, TokrsError } from '../../src/errors.js';

/** Seed for every fuzz property; FUZZ_SEED overrides it to explore further locally. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240601);
/** Multiplies every numRuns: FUZZ_RUNS_SCALE=20 for a longer local hunt. */
export const RUNS_SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);

export const runs = (n: number): { seed: number; numRuns: number; endOnFailure: true } => ({
  seed: FUZZ_SEED,
  numRuns: Math.max(1, Math.round(n * RUNS_SCALE)),
  endOnFailure: true,
});

const CODES = new Set<string>(Object.values(ERROR_CODES));

/**
 * Runs `fn`; it may return or throw a TokrsError with a known stable code, and nothing else. Fails when it
 * takes longer than `maxMs` (a hang shows up as a slow run: everything here is synchronous).
 * Returns the code of the rejection, or undefined for success.
 */
export function typedOrOk(fn: () => unknown, maxMs: number, allowed?: readonly string[]): string | undefined {
  const started = performance.now();
  let code: string | undefined;
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof TokrsError, `expected a TokrsError, got ${error instanceof Error ? `${error.name}: ${error.stack ?? error.message}` : String(error)}`);
    assert.ok(CODES.has(error.code), `unknown code ${error.code}`);
    assert.match(error.code, /^TOKRS_ERR_[A-Z]+$/);
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0 && error.message.length < 10_000, `message of ${error.message.length} chars`);
    if (allowed !== undefined) assert.ok(allowed.includes(error.code), `code ${error.code} not in ${allowed.join(', ')}: ${error.message}`);
    code = error.code;
  }
  const ms = performance.now() - started;
  assert.ok(ms < maxMs, `took ${ms.toFixed(0)} ms (limit ${maxMs})`);
  return code;
}
