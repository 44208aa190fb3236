/**
 * Argument and snapshot checks shared by the samplers, so every bad value gets the same kind of message:
 * what was wrong, the value found, and (where it helps) what to do.
 */
import { ERROR_CODES, TokrsError } from '../errors.js';
import type { SamplerSnapshot } from './sampler.js';

export function sampleError(message: string): TokrsError {
  return new TokrsError(ERROR_CODES.SAMPLE, message);
}

export function snapshotError(message: string): TokrsError {
  return new TokrsError(ERROR_CODES.SNAPSHOT, message);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** `name must be a positive integer, got -3` */
export function checkCapacity(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw sampleError(`${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}

/**
 * The weights A-ExpJ can work with. Its keys are log(u) / w and its skips log(u) / log(T): with w beyond
 * ~1e300 the keys fall into subnormals and lose their order (ties), below ~1e-308 they overflow to -Infinity,
 * and the skip overflows to Infinity, after which no item enters again. Within these bounds every key and
 * skip is a normal double.
 */
const MIN_WEIGHT = 1e-100;
const MAX_WEIGHT = 1e100;

/** A weight must be a number in [MIN_WEIGHT, MAX_WEIGHT]: A-ExpJ divides by it and takes its logarithm. */
export function checkWeight(value: unknown, count: number): number {
  if (typeof value !== 'number' || !(value >= MIN_WEIGHT && value <= MAX_WEIGHT)) {
    throw sampleError(`sample weight must be a number in [1e-100, 1e100], got ${show(value)} for item ${count + 1}`);
  }
  return value;
}

export function checkProbability(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw sampleError(`${name} must be a number in (0, 1], got ${show(value)}`);
  }
  return value;
}

/** Checks the envelope every snapshot shares; method-specific fields are read with `extraNumber`. */
export function checkSnapshot<T>(snapshot: SamplerSnapshot<T>, kind: string, version: number): void {
  if (snapshot === null || typeof snapshot !== 'object') {
    throw snapshotError(`cannot restore a ${kind} sampler from ${show(snapshot)}`);
  }
  if (snapshot.kind !== kind) {
    throw snapshotError(`cannot restore a ${kind} sampler from a ${show(snapshot.kind)} snapshot`);
  }
  if (snapshot.version !== version) {
    throw snapshotError(
      `cannot restore a ${kind} sampler from snapshot version ${show(snapshot.version)}; this build reads version ${version}`,
    );
  }
  if (!Array.isArray(snapshot.items)) throw snapshotError(`${kind} snapshot has no items array`);
  if (!Number.isSafeInteger(snapshot.count) || snapshot.count < 0) {
    throw snapshotError(`${kind} snapshot count must be a non-negative integer, got ${show(snapshot.count)}`);
  }
  if (snapshot.extra === null || typeof snapshot.extra !== 'object') {
    throw snapshotError(`${kind} snapshot has no extra state`);
  }
}

export function extraNumber(snapshot: SamplerSnapshot<unknown>, key: string): number {
  const value = snapshot.extra[key];
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw snapshotError(`${snapshot.kind} snapshot extra.${key} must be a number, got ${show(value)}`);
  }
  return value;
}

export function extraArray(snapshot: SamplerSnapshot<unknown>, key: string): unknown[] {
  const value = snapshot.extra[key];
  if (!Array.isArray(value)) throw snapshotError(`${snapshot.kind} snapshot extra.${key} must be an array`);
  return value;
}
