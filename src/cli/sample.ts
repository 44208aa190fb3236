/**
 * `tokrs sample`: a streaming `shuf -n` that also does the weighted, stratified and recent variants. One pass
 * over the lines of a file or stdin, memory fixed by --size; the same --seed gives the same output.
 */
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { configError, ERROR_CODES, TokrsError } from '../errors.js';
import { createRandom } from '../sample/random.js';
import { createSampler, parseSampleConfig, SAMPLE_METHODS, type SampleConfigInput } from '../sample/config.js';
import { BernoulliSampler, SystematicSampler } from '../sample/simple.js';

interface Line {
  readonly text: string;
  readonly fields?: Record<string, unknown>;
}

interface SampleOptions {
  size?: string;
  method: string;
  seed?: string;
  weightField?: string;
  labelField?: string;
  timeField?: string;
  perLabel?: boolean;
  window?: string;
  windowMs?: string;
  bias?: string;
  every?: string;
  p?: string;
}

const toNumber = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));

export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('print a random sample of the lines of a file or stdin, in one pass and fixed memory')
    .argument('[file]', 'input file; "-" or nothing for standard input')
    .option('-n, --size <k>', 'sample size (per label with --per-label); for bernoulli/systematic, stop after k lines')
    .addOption(new Option('-m, --method <method>', 'sampling method').choices([...SAMPLE_METHODS]).default('uniform'))
    .option('-s, --seed <seed>', 'PRNG seed: the same seed gives the same output (default: random)')
    .option('--weight-field <f>', 'weighted: lines are JSON, weight is this numeric field')
    .option('--label-field <f>', 'stratified: lines are JSON, stratum is this field')
    .option('--time-field <f>', 'recent with --window-ms: lines are JSON, time in ms is this field')
    .option('--per-label', 'stratified: --size items per label instead of --size in total')
    .option('--window <n>', 'recent: uniform sample of the last n lines')
    .option('--window-ms <t>', 'recent: uniform sample of the last t ms (by --time-field)')
    .option('--bias <lambda>', 'recent: exponential bias λ ≤ 1/size (default 1/size)')
    .option('--every <k>', 'systematic: every k-th line from a random start', '10')
    .option('-p, --p <p>', 'bernoulli: keep each line with probability p', '0.1')
    .action(async (file: string | undefined, options: SampleOptions) => {
      await runSample(file, options);
    });
}

async function runSample(file: string | undefined, options: SampleOptions): Promise<void> {
  const method = options.method;
  const streaming = method === 'bernoulli' || method === 'systematic';
  if (options.size === undefined && !streaming) throw configError(`tokrs sample --method ${method} needs --size k`);
  if (method === 'weighted' && options.weightField === undefined) throw configError('--method weighted needs --weight-field');
  if (method === 'stratified' && options.labelField === undefined) throw configError('--method stratified needs --label-field');
  if (options.windowMs !== undefined && options.timeField === undefined) throw configError('--window-ms needs --time-field');

  const seedText = options.seed ?? randomUUID();
  const seed = /^-?\d+$/.test(seedText) && Number.isSafeInteger(Number(seedText)) ? Number(seedText) : seedText;
  const raw: SampleConfigInput = {
    method: method as SampleConfigInput['method'],
    // Streaming methods print as they go and keep nothing; --size only stops them early.
    size: streaming ? 1 : toNumber(options.size),
    seed,
    stratified: { mode: options.perLabel ? 'per-label' : 'shared' },
    recent: { windowItems: toNumber(options.window), windowMs: toNumber(options.windowMs), bias: toNumber(options.bias) },
    bernoulli: { p: toNumber(options.p) },
    systematic: { every: toNumber(options.every) },
  };
  const config = parseSampleConfig(raw, 'tokrs sample');
  const limit = options.size === undefined ? Infinity : toNumber(options.size);
  if (streaming && !(Number.isSafeInteger(limit) && (limit as number) > 0) && limit !== Infinity) {
    throw configError(`tokrs sample: --size must be a positive integer, got ${options.size}`);
  }

  const field = (line: Line, name: string): unknown => line.fields?.[name];
  const sampler = createSampler<Line>(
    config,
    {
      weight: (line) => field(line, options.weightField ?? '') as number,
      label: (line) => {
        const v = field(line, options.labelField ?? '');
        return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      },
      time: (line) => field(line, options.timeField ?? '') as number,
    },
    createRandom(config.seed),
  );
  const needsJson = [options.weightField, options.labelField, options.timeField].some((f) => f !== undefined);

  const input = file === undefined || file === '-' ? process.stdin : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let printed = 0;
  for await (const text of lines) {
    lineNo++;
    const line = needsJson ? { text, fields: parseJsonLine(text, lineNo) } : { text };
    try {
      sampler.offer(line);
    } catch (error) {
      if (error instanceof TokrsError) throw new TokrsError(error.code, `line ${lineNo}: ${error.message}`);
      throw error;
    }
    if (sampler instanceof BernoulliSampler || sampler instanceof SystematicSampler) {
      if (sampler.selected > printed) {
        printed++;
        process.stdout.write(text + '\n');
        if (printed >= (limit ?? Infinity)) break;
      }
    }
  }
  lines.close();
  if (streaming) return;
  const out = sampler.sample().map((l) => l.text);
  if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
}

function parseJsonLine(text: string, lineNo: number): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below with the line number
  }
  throw new TokrsError(ERROR_CODES.DECODE, `line ${lineNo} is not a JSON object: ${text.slice(0, 80)}`);
}
