import { z } from 'zod';
import { parseOrThrow } from './parse.js';

/** A dense input row per example: beyond 2^14 buckets the per-example tensor costs more than it buys. */
export const TFJS_MAX_DIM = 2 ** 14;

const optimizerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('sgd'),
    lr: z.number().positive().default(0.5),
    schedule: z.enum(['constant', 'invscaling']).default('constant'),
    power: z.number().min(0).default(0.5),
  }),
  z.strictObject({ type: z.literal('adagrad'), lr: z.number().positive().default(0.1), eps: z.number().positive().default(1e-8) }),
  z.strictObject({ type: z.literal('ftrl'), alpha: z.number().positive().default(0.5), beta: z.number().min(0).default(1) }),
]);

/**
 * The `model` section of a topology. Defaults give the default model: SoftmaxSgd with constant-rate SGD.
 *
 * ```yaml
 * model: { type: softmax-sgd, optimizer: { type: ftrl, alpha: 0.5 }, l1: 1e-6 }
 * ```
 */
export const modelConfigSchema = z
  .strictObject({
    type: z.enum(['softmax-sgd', 'tfjs']).default('softmax-sgd'),
    optimizer: optimizerSchema.default({ type: 'sgd', lr: 0.5, schedule: 'constant', power: 0.5 }),
    l1: z.number().min(0).default(0),
    l2: z.number().min(0).default(0),
    classWeights: z
      .union([z.enum(['none', 'balanced']), z.record(z.string(), z.number().min(0))], { error: 'must be "none", "balanced" or a map of label to a weight >= 0' })
      .default('none'),
    intercept: z.boolean().default(true),
    maxClasses: z.number().int().min(1).default(1024),
    tfjs: z
      .strictObject({
        hidden: z.array(z.number().int().positive()).default([]),
        lr: z.number().positive().default(0.5),
        seed: z.number().int().default(42),
        backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
      })
      .prefault({}),
  })
  .strict();

/**
 * The `train` section: which examples the model learns from. `stream`: every labelled message once, in
 * order. `reservoir`: only mini-batches replayed from the reservoir. `both`: the message, and every
 * `replayEvery` labelled messages a mini-batch of `replayBatch` drawn with replacement from the reservoir.
 */
export const trainConfigSchema = z
  .strictObject({
    learnOn: z.enum(['stream', 'reservoir', 'both']).default('both'),
    replayEvery: z.number().int().positive().default(100),
    replayBatch: z.number().int().positive().default(32),
  })
  .strict();

export type ModelConfig = z.output<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;
export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** Parses with defaults; a bad value is a CONFIG error naming the path, expected and found. */
export function parseModelConfig(input: unknown, where = 'model'): ModelConfig {
  return parseOrThrow(modelConfigSchema, input ?? {}, where);
}

export function parseTrainConfig(input: unknown, where = 'train'): TrainConfig {
  return parseOrThrow(trainConfigSchema, input ?? {}, where);
}
