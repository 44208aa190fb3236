import type { Random } from './random.js';
import { sampleError } from './validate.js';

/** `size` items drawn uniformly with replacement from `items` (the learner's replay mini-batch). */
export function drawWithReplacement<T>(items: readonly T[], size: number, random: Random): T[] {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw sampleError(`drawBatch size must be a non-negative integer, got ${String(size)}`);
  }
  const n = items.length;
  if (n === 0) return [];
  const out = new Array<T>(size);
  for (let i = 0; i < size; i++) out[i] = items[Math.floor(random.next() * n)];
  return out;
}

/** A uniform random `m`-subset of `items` (partial Fisher–Yates on a copy), in random order. */
export function chooseSubset<T>(items: readonly T[], m: number, random: Random): T[] {
  const copy = items.slice();
  const n = copy.length;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random.next() * (n - i));
    const t = copy[i];
    copy[i] = copy[j];
    copy[j] = t;
  }
  copy.length = Math.min(m, n);
  return copy;
}
