/**
 * The topology's `sample` section: a zod schema with defaults, and `createSampler`, which builds any sampler
 * from that plain config, the accessors it needs and an injected Random.
 */
import { z } from 'zod';
import { configError } from '../errors.js';
import type { Random } from './random.js';
import type { Sampler } from './sampler.js';
import { ReservoirR, UniformReservoir } from './uniform.js';
import { WeightedReservoir } from './weighted.js';
import { StratifiedReservoir } from './stratified.js';
import { biasFits, SlidingWindowReservoir, TimeBiasedReservoir } from './recent.js';
import { BernoulliSampler, SystematicSampler } from './simple.js';

export const SAMPLE_METHODS = [
  'uniform',
  'uniform-r',
  'weighted',
  'stratified',
  'recent',
  'systematic',
  'bernoulli',
] as const;
export type SampleMethod = (typeof SAMPLE_METHODS)[number];

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** `path must be a positive integer, got -3` for every way a value can fail to be one. */
function positiveInt(path: string) {
  const error = (issue: { input?: unknown }): string => `${path} must be a positive integer, got ${show(issue.input)}`;
  return z.number({ error }).int({ error }).positive({ error });
}

function probability(path: string) {
  const error = (issue: { input?: unknown }): string => `${path} must be a number in (0, 1], got ${show(issue.input)}`;
  return z.number({ error }).gt(0, { error }).lte(1, { error });
}

function fieldName(path: string) {
  return z.string({ error: (issue) => `${path} must be a field name, got ${show(issue.input)}` }).min(1);
}

const sampleFields = z.strictObject({
  /** Which sampler; `uniform` is Algorithm L, `uniform-r` the reference Algorithm R. */
  method: z
    .enum(SAMPLE_METHODS, { error: (issue) => `sample.method must be one of ${SAMPLE_METHODS.join(', ')}, got ${show(issue.input)}` })
    .default('uniform'),
  /** Reservoir capacity (per label for stratified `per-label`); the kept-items limit for bernoulli/systematic. */
  size: positiveInt('sample.size').default(1000),
  /** Seed of the sampler's PRNG: the same seed over the same stream gives the same sample. */
  seed: z
    .union([z.number().int(), z.string()], { error: (issue) => `sample.seed must be an integer or a string, got ${show(issue.input)}` })
    .default(1),
  /** Field holding the weight (weighted): token count by default, for a token-weighted sample. */
  weightField: fieldName('sample.weightField').default('tokenCount'),
  /** Field holding the stratum (stratified). */
  labelField: fieldName('sample.labelField').default('label'),
  /** Field holding the event time in ms (recent with windowMs). */
  timeField: fieldName('sample.timeField').default('timestamp'),
  stratified: z
    .strictObject({
      /** `shared`: size is the total, split equally among labels seen; `per-label`: size per label. */
      mode: z.enum(['shared', 'per-label']).default('shared'),
      maxLabels: positiveInt('sample.stratified.maxLabels').default(1000),
    })
    .prefault({}),
  recent: z
    .strictObject({
      /** Exponential bias λ ≤ 1/size (Aggarwal 2006); default 1/size. Ignored when a window is set. */
      bias: z.number().positive().optional(),
      /** Uniform sample of the last N items instead of an exponential bias. */
      windowItems: positiveInt('sample.recent.windowItems').optional(),
      /** Uniform sample of the last T ms (by timeField) instead of an exponential bias. */
      windowMs: positiveInt('sample.recent.windowMs').optional(),
    })
    .prefault({}),
  bernoulli: z.strictObject({ p: probability('sample.bernoulli.p').default(0.01) }).prefault({}),
  systematic: z.strictObject({ every: positiveInt('sample.systematic.every').default(100) }).prefault({}),
});

/** Rules between fields, which the samplers' constructors would otherwise only find at the first offer. */
function checkSampleConfig(c: { size: number; method: SampleMethod; recent: { bias?: number; windowItems?: number; windowMs?: number } }, ctx: z.RefinementCtx): void {
  const bias = c.recent.bias;
  // With a window the bias is not used (see `recent.bias`), so it is not checked either.
  const windowed = c.recent.windowItems !== undefined || c.recent.windowMs !== undefined;
  if (c.method === 'recent' && !windowed && bias !== undefined && !biasFits(bias, c.size)) {
    ctx.addIssue({
      code: 'custom',
      path: ['recent', 'bias'],
      input: bias,
      message: `must be in (0, 1/sample.size] = (0, ${1 / c.size}], got ${bias} (with a larger bias a full reservoir would have to drop more than one item for each item it takes)`,
    });
  }
}

export const sampleConfigSchema = sampleFields.superRefine(checkSampleConfig);

/** The fields of the examples a topology offers its samplers, and what each sampler field must name. */
const EXAMPLE_FIELDS = [
  ['weightField', 'tokenCount', 'token count'],
  ['labelField', 'label', 'label'],
  ['timeField', 'timestamp', 'event time'],
] as const;

/**
 * A topology's `sample` section: the same, without `seed`, because a topology seeds every sampler from its own
 * `seed` and each source partition's key (so a partition's sample is the same in whichever process holds it);
 * and its field names can only be an example's (features, label, tokenCount, timestamp), not the source
 * record's: another name would be read as undefined and every offer refused.
 */
export const topologySampleSchema = sampleFields
  .omit({ seed: true })
  .extend({ seed: z.unknown().optional() })
  .superRefine((c, ctx) => {
    if (c.seed !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['seed'],
        input: c.seed,
        message: `is not used in a topology, got ${JSON.stringify(c.seed)}: the topology's own seed (at the top of the file) seeds every sampler, with each source partition's key`,
      });
    }
    for (const [key, allowed, what] of EXAMPLE_FIELDS) {
      if (c[key] !== allowed) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          input: c[key],
          message: `must be ${JSON.stringify(allowed)} (the ${what} of the example the sampler is offered; an example has only features, label, tokenCount and timestamp), got ${JSON.stringify(c[key])}`,
        });
      }
    }
    checkSampleConfig(c, ctx);
  });

export type SampleConfig = z.output<typeof sampleConfigSchema>;
export type SampleConfigInput = z.input<typeof sampleConfigSchema>;

/**
 * Parses a `sample` section, throwing a TOKRS_ERR_CONFIG error that names the file (when given) and every
 * bad field: `topologies/x.yaml: sample.size must be a positive integer, got -3`.
 */
export function parseSampleConfig(raw: unknown, where?: string): SampleConfig {
  const result = sampleConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const prefix = where === undefined ? '' : `${where}: `;
  const messages = result.error.issues.map((issue) =>
    issue.message.startsWith('sample.') ? issue.message : `sample.${issue.path.join('.')}: ${issue.message}`,
  );
  throw configError(prefix + messages.join('; '));
}

/** What the samplers that need more than the item read from it. */
export interface SampleAccessors<T> {
  readonly weight?: (item: T) => number;
  readonly label?: (item: T) => string;
  readonly time?: (item: T) => number;
}

/**
 * Accessors that read the configured field names from plain objects (an Example has `tokenCount`, `label`
 * and `timestamp`, the defaults).
 */
export function fieldAccessors<T extends object>(config: Pick<SampleConfig, 'weightField' | 'labelField' | 'timeField'>): Required<SampleAccessors<T>> {
  const get = (item: T, field: string): unknown => (item as Record<string, unknown>)[field];
  return {
    weight: (item) => get(item, config.weightField) as number,
    label: (item) => {
      const label = get(item, config.labelField);
      return typeof label === 'number' || typeof label === 'boolean' ? String(label) : (label as string);
    },
    time: (item) => get(item, config.timeField) as number,
  };
}

function need<F>(accessor: F | undefined, method: string, what: string): F {
  if (accessor === undefined) throw configError(`sample.method ${method} needs a ${what} accessor`);
  return accessor;
}

/**
 * Builds the configured sampler. `config` may be raw (defaults are applied) or already parsed; its `seed` is not
 * read here, as the PRNG comes in as `random`.
 *
 * @example
 *   const config = parseSampleConfig({ method: 'weighted', size: 500 });
 *   const sampler = createSampler<Example>(config, fieldAccessors(config), createRandom(config.seed));
 */
export function createSampler<T>(config: Omit<SampleConfigInput, 'seed'>, accessors: SampleAccessors<T>, random: Random): Sampler<T> {
  const c = parseSampleConfig(config);
  switch (c.method) {
    case 'uniform':
      return new UniformReservoir<T>(c.size, random);
    case 'uniform-r':
      return new ReservoirR<T>(c.size, random);
    case 'weighted':
      return new WeightedReservoir<T>(c.size, need(accessors.weight, c.method, 'weight'), random);
    case 'stratified':
      return new StratifiedReservoir<T>(
        {
          mode: c.stratified.mode,
          capacity: c.size,
          maxLabels: c.stratified.maxLabels,
          label: need(accessors.label, c.method, 'label'),
        },
        random,
      );
    case 'recent':
      if (c.recent.windowItems !== undefined || c.recent.windowMs !== undefined) {
        return new SlidingWindowReservoir<T>(
          {
            capacity: c.size,
            windowItems: c.recent.windowItems,
            windowMs: c.recent.windowMs,
            time: c.recent.windowMs === undefined ? undefined : need(accessors.time, c.method, 'time'),
          },
          random,
        );
      }
      return new TimeBiasedReservoir<T>({ capacity: c.size, bias: c.recent.bias }, random);
    case 'systematic':
      return new SystematicSampler<T>({ every: c.systematic.every, limit: c.size }, random);
    case 'bernoulli':
      return new BernoulliSampler<T>({ p: c.bernoulli.p, limit: c.size }, random);
  }
}
