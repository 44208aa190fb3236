import type { z } from 'zod';
import { configError } from '../errors.js';

/** Parses with defaults; a bad value is a CONFIG error naming the path, expected and found. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw configError(r.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; '));
}
