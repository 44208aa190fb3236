/**
 * `tokrs replay <topology.yaml> [more…]`: backtest topologies over a fixed range of their source topics (or
 * a JSON Lines file), deterministically, with a report and charts. Several topologies = an A/B comparison.
 */
import type { Command } from 'commander';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { configError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { createLogger } from '../observe/logger.js';
import { loadTopology } from '../topology/load.js';
import { replay } from '../topology/replay.js';
import { writeReport } from '../topology/replay-report.js';
import { resolveBrokers } from './brokers.js';

interface ReplayFlags {
  from: string;
  to: string;
  input?: string;
  report?: string;
  outputPrefix?: string;
  publish: boolean;
  brokers?: string;
  runId?: string;
  progress: boolean;
  png: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('backtest topologies over a fixed topic range (or a JSON Lines file): deterministic metrics, a report and charts')
    .argument('<topologies...>', 'topology files (YAML); several run side by side over the same messages (A/B)')
    .option('--from <bound>', 'earliest | ISO 8601 time with zone | partition:offset,… (first message of the range)', 'earliest')
    .option('--to <bound>', 'latest | ISO 8601 time with zone | partition:offset,… (end, exclusive; fixed at start)', 'latest')
    .option('--input <file.jsonl>', 'replay a JSON Lines file ({text, label, id?, timestamp?}) instead of topics; no broker needed')
    .option('--report <dir>', 'write report.json, report.html and report.png there')
    .option('--output-prefix <prefix>', 'publish outputs to the output topics renamed <prefix><topic>')
    .option('--no-publish', 'publish nothing; only the report')
    .option('--brokers <list>', 'Kafka brokers, comma-separated')
    .option('--run-id <id>', 'run id carried by output records (default: derived from topology hash and range)')
    .option('--no-progress', 'no progress bar or progress lines')
    .option('--no-png', 'skip the PNG of the main chart (needs Chromium)')
    .addHelpText(
      'after',
      `
Examples:
  tokrs replay topologies/waimai-sentiment.yaml --from 2024-06-01T00:00:00Z --to latest --report out/
  tokrs replay a.yaml b.yaml --from 0:0,1:0,2:0 --to latest --output-prefix backtest. --report ab/
  tokrs replay topologies/waimai-sentiment.yaml --input ../shared/data/waimai_10k.jsonl --report out/

With --input, outputs are published only when --brokers or --output-prefix is given.`,
    )
    .action(async (files: string[], opts: ReplayFlags) => {
      const topologies = files.map((f) => loadTopology(f));
      // The report's directory is checked now, not after a replay of hours.
      if (opts.report !== undefined) {
        try {
          mkdirSync(opts.report, { recursive: true });
          accessSync(opts.report, constants.W_OK);
        } catch (error) {
          throw configError(`--report ${opts.report}: cannot write there (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
        }
      }
      const logger = createLogger({}, process.env.TOKRS_LOG_LEVEL ?? 'warn');
      const fromFile = opts.input !== undefined;
      const publishWanted = opts.publish && (!fromFile || opts.brokers !== undefined || opts.outputPrefix !== undefined);
      const needsKafka = !fromFile || publishWanted;
      const kafka = needsKafka
        ? createKafka({ brokers: resolveBrokers(opts.brokers, topologies[0]!.source.brokers), clientId: 'tokrs-replay' })
        : undefined;
      const report = await replay({
        topologies,
        from: opts.from,
        to: opts.to,
        ...(opts.input === undefined ? {} : { input: opts.input }),
        ...(kafka === undefined ? {} : { kafka }),
        publish: publishWanted ? { prefix: opts.outputPrefix ?? '' } : false,
        ...(opts.runId === undefined ? {} : { runId: opts.runId }),
        logger,
        progress: opts.progress,
      });
      if (opts.report !== undefined) {
        const written = await writeReport(report, opts.report, { png: opts.png });
        process.stderr.write(`report: ${written.json}, ${written.html}${written.png === undefined ? ` (no PNG: ${written.pngSkipped})` : `, ${written.png}`}\n`);
      }
      const summary = {
        range: { from: report.range.from, to: report.range.to, messages: report.range.replayed },
        runs: report.runs.map((r) => ({
          topology: r.topology,
          runId: r.runId,
          count: r.final.count,
          accuracy: r.final.accuracy,
          macroF1: r.final.macroF1,
          logLoss: r.final.logLoss,
          deadLetters: r.deadLetters,
          published: r.published,
        })),
        durationMs: report.timing.durationMs,
        messagesPerSecond: report.timing.messagesPerSecond,
      };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
