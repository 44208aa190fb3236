/**
 * `tokrs tokenize`: shows what a topology will learn from, one JSON object per input text.
 *
 *   tokrs tokenize --tokenizer jieba 今天天气不错
 *   cat texts.txt | tokrs tokenize --topology topologies/waimai.yaml -
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { configError } from '../errors.js';
import { createFeaturizer } from '../features/featurizer.js';
import { createTokenizer, parseTokenizeConfig } from '../tokenize/create-tokenizer.js';

interface TokenizeOptions {
  tokenizer?: string;
  topology?: string;
  bits?: string;
  bigrams?: boolean;
  hmm?: boolean;
  engine?: string;
}

/** Reads only the `tokenize` and `features` sections; the full topology schema lives in src/topology/. */
function readTopology(file: string): { tokenize: Record<string, unknown>; features: Record<string, unknown> } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw configError(`${file}: cannot read topology (${(error as Error).message})`);
  }
  const sections = (doc ?? {}) as { tokenize?: unknown; features?: unknown };
  const section = (name: 'tokenize' | 'features'): Record<string, unknown> => {
    const value = sections[name] ?? {};
    if (typeof value !== 'object' || Array.isArray(value)) throw configError(`${file}: ${name} must be a mapping`);
    return value as Record<string, unknown>;
  };
  return { tokenize: section('tokenize'), features: section('features') };
}

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('print the tokens and hashed features of each text (or of each stdin line with "-")')
    .argument('[text...]', 'texts to tokenize; "-" reads one text per line from stdin')
    .option('--tokenizer <name>', 'jieba | bpe | chars | words (overrides the topology)')
    .option('--topology <file>', 'take the tokenize and features sections from this YAML topology')
    .option('--engine <engine>', 'jieba engine: nodejieba | node-rs')
    .option('--hmm', 'jieba: use the HMM for unknown words')
    .option('--bits <n>', 'hash space of 2^n buckets')
    .option('--bigrams', 'also hash adjacent token pairs')
    .action(async (texts: string[], options: TokenizeOptions) => {
      const base = options.topology === undefined ? { tokenize: {}, features: {} } : readTopology(options.topology);
      const where = options.topology === undefined ? 'tokenize' : `${options.topology}: tokenize`;
      const tokenizeInput = { ...base.tokenize } as Record<string, unknown>;
      if (options.tokenizer !== undefined) tokenizeInput.tokenizer = options.tokenizer;
      if (options.engine !== undefined || options.hmm !== undefined) {
        tokenizeInput.jieba = {
          ...(tokenizeInput.jieba as object | undefined),
          ...(options.engine !== undefined && { engine: options.engine }),
          ...(options.hmm !== undefined && { hmm: options.hmm }),
        };
      }
      const featuresInput = { ...base.features } as Record<string, unknown>;
      if (options.bits !== undefined) featuresInput.bits = Number(options.bits);
      if (options.bigrams !== undefined) featuresInput.bigrams = options.bigrams;

      const tokenizer = createTokenizer(parseTokenizeConfig(tokenizeInput, where));
      const featurizer = createFeaturizer(featuresInput);
      const print = (text: string): void => {
        const { tokens, tokenCount, truncated } = tokenizer.tokenize(text);
        const v = featurizer.featurize(tokens);
        const features = { indices: [...v.indices], values: [...v.values], dim: v.dim };
        process.stdout.write(`${JSON.stringify({ text, tokens, tokenCount, truncated, features })}\n`);
      };
      for (const text of texts) {
        if (text !== '-') {
          print(text);
          continue;
        }
        for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) print(line);
      }
    });
}
