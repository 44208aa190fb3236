import { z } from 'zod';
import { parseOrThrow } from '../learn/parse.js';
import { Evaluator } from './evaluator.js';

/**
 * The `evaluate` section of a topology. 0 turns a report trigger or a window off; `fadingFactor: null`
 * turns the fading variant off.
 */
export const evaluateConfigSchema = z
  .object({
    /** Emit a report every N messages (0: never on count). */
    reportEvery: z.number().int().min(0).default(1000),
    /** Emit a report every T ms of the scheduler's clock (0: never on time). */
    reportEveryMs: z.number().int().min(0).default(10_000),
    /** Emit a last report when the input completes. */
    reportOnComplete: z.boolean().default(true),
    rollingWindow: z.number().int().min(0).default(1000),
    timeWindowMs: z.number().int().min(0).default(60_000),
    fadingFactor: z.number().gt(0).max(1).nullable().default(0.999),
    /** Which records get a prediction output: unlabelled ones (to publish), all, or none. */
    emitPredictions: z.enum(['unlabelled', 'all', 'none']).default('unlabelled'),
  })
  .strict();

export type EvaluateConfig = z.output<typeof evaluateConfigSchema>;
export type EvaluateConfigInput = z.input<typeof evaluateConfigSchema>;

export function parseEvaluateConfig(input: unknown, where = 'evaluate'): EvaluateConfig {
  return parseOrThrow(evaluateConfigSchema, input ?? {}, where);
}

/** Builds the evaluator an `evaluate` section describes, with the clock passed in. */
export function createEvaluator(input: EvaluateConfigInput | EvaluateConfig, options: { step?: string; now: () => number }): Evaluator {
  const c = parseEvaluateConfig(input);
  return new Evaluator({
    step: options.step,
    now: options.now,
    rollingWindow: c.rollingWindow,
    timeWindowMs: c.timeWindowMs,
    fadingFactor: c.fadingFactor ?? undefined,
  });
}
