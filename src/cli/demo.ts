/**
 * `tokrs demo` (the README's main command, `npm start`): the whole job on real text in one command. It
 * starts a local broker unless brokers are given, fetches (once) a public corpus of classical Chinese
 * poems, feeds it at a live rate, runs topologies/poetry-dynasty.yaml on it (Tang shi, Song shi or Song
 * ci?), prints rolling metrics and serves the dashboard. Ctrl-C stops everything it started.
 */
import type { Command } from 'commander';
import { createReadStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describeError, ERROR_CODES, isTokrsError } from '../errors.js';
import { ensureTopics, withAdmin } from '../kafka/admin.js';
import { createKafka, parseBrokers } from '../kafka/client.js';
import { feedLines } from '../kafka/feed.js';
import { LocalBroker } from '../kafka/local-broker.js';
import { cacheDir } from '../kafka/paths.js';
import type { DashboardHandle } from '../observe/dashboard/server.js';
import { silentLogger } from '../observe/logger.js';
import { loadTopology } from '../topology/load.js';
import type { TopologyOutput } from '../topology/pipeline.js';
import { startTopology, type RunHandle } from '../topology/runner.js';
import { DEFAULT_DASHBOARD_PORT, DEMO_TOPOLOGY, serveDashboard } from './dashboard.js';
import { portFlag, positiveFlag } from './flags.js';
import { ensurePoetryCorpus } from './demo-corpus.js';


interface DemoOptions {
  rate: number;
  brokers?: string;
  port: number;
  ui: boolean;
}

const say = (line: string): void => void process.stderr.write(`tokrs demo: ${line}\n`);

/** --rate 200 or --rate 200/s. */
const parseRate = (value: string): number => positiveFlag('--rate')(value.replace(/\/s$/, ''));

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '  -  ' : x.toFixed(3));

/** One terminal line per metrics report. */
function metricsLine(output: Extract<TopologyOutput, { kind: 'metrics' }>, started: number): string {
  const r = output.record;
  const w = (r.rolling ?? []).find((x) => x.kind === 'count') ?? r.rolling?.[0];
  const mix = r.reservoir?.labels ?? {};
  const total = Object.values(mix).reduce((a, b) => a + b, 0) || 1;
  const reservoir = Object.entries(mix)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, n]) => `${label} ${Math.round((100 * n) / total)}%`)
    .join(' ');
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  return (
    `[${seconds}s] ${String(r.counts.labelled).padStart(6)} poems | rolling(${w?.window ?? 'all'}) accuracy ${pct(w?.accuracy ?? r.accuracy)}` +
    ` macro-F1 ${pct(w?.macroF1 ?? r.macroF1)} log-loss ${pct(w?.logLoss ?? r.logLoss)} | overall accuracy ${pct(r.accuracy)}` +
    ` | ${Math.round(r.throughput)} msg/s | reservoir ${reservoir}\n`
  );
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole pipeline on real text: local broker, classical Chinese poems at a live rate, online learning, live dashboard')
    .option('--rate <n>', 'poems per second fed into the stream', parseRate, 200)
    .option('--brokers <list>', 'use these Kafka brokers instead of starting a local one (or set KAFKA_BROKERS)')
    .option('--port <n>', 'dashboard port (a free one if it is taken)', portFlag('--port', true), DEFAULT_DASHBOARD_PORT)
    .option('--no-ui', 'no dashboard, terminal only')
    .action(async (opts: DemoOptions) => {
      const started = Date.now();
      let broker: LocalBroker | undefined;
      let run: RunHandle | undefined;
      let dashboard: DashboardHandle | undefined;
      const abort = new AbortController();
      let stopping = false;
      let interrupted!: () => void;
      const interruptedP = new Promise<void>((resolve) => (interrupted = resolve));
      const onSignal = (): void => {
        if (stopping) {
          say('second Ctrl-C: exiting without a clean stop');
          broker?.kill();
          process.exit(130);
        }
        stopping = true;
        say('stopping (Ctrl-C again to force)...');
        abort.abort();
        interrupted();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      let feeding: Promise<unknown> = Promise.resolve();
      try {
        const given = parseBrokers(opts.brokers ?? process.env.KAFKA_BROKERS ?? '');
        // The corpus download and the broker start are independent: do both at once.
        const corpusP = ensurePoetryCorpus(cacheDir(), say);
        const brokersP: Promise<string[]> =
          given.length > 0
            ? Promise.resolve(given)
            : (async () => {
                say('starting a local Kafka broker (the first start fetches its jars)...');
                // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and a broker
                // that stopped with us could not take the run's last flush and commit. We stop it last.
                broker = await LocalBroker.start({ dataDir: mkdtempSync(join(tmpdir(), 'tokrs-demo-')), detached: true });
                return [broker.bootstrap];
              })();
        const [corpusR, brokersR] = await Promise.allSettled([corpusP, brokersP]);
        if (corpusR.status === 'rejected') throw corpusR.reason;
        if (brokersR.status === 'rejected') throw brokersR.reason;
        const corpus = corpusR.value;
        const brokers = brokersR.value;
        if (stopping) return;
        say(`Kafka at ${brokers.join(',')}${broker === undefined ? '' : ` (local broker, pid ${broker.pid})`}`);

        const topology = loadTopology(DEMO_TOPOLOGY);
        const kafka = createKafka({ brokers, clientId: 'tokrs-demo' });
        const topic = topology.source.topics[0]!;
        await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
        let firstMetrics = true;
        run = await startTopology(topology, {
          kafka,
          onOutput: (output) => {
            if (output.kind !== 'metrics') return;
            if (firstMetrics) {
              firstMetrics = false;
              say(`first metrics after ${((Date.now() - started) / 1000).toFixed(1)} s`);
            }
            process.stdout.write(metricsLine(output, started));
          },
        });
        if (opts.ui) {
          try {
            dashboard = await serveDashboard([topology], brokers, { port: opts.port, logger: silentLogger });
          } catch (error) {
            if (!(isTokrsError(error, ERROR_CODES.CONFIG) && /in use/.test(error.message))) throw error;
            say(`port ${opts.port} is taken; using a free one`);
            dashboard = await serveDashboard([topology], brokers, { port: 0, logger: silentLogger });
          }
          say(`dashboard: ${dashboard.url}`);
        }
        say(`feeding ${corpus.poems} poems into ${topic} at ${opts.rate}/s; topology ${topology.name}: ${topology.description ?? ''}`);
        say('Ctrl-C stops the feeder, the run, the dashboard and the broker');
        const lines = async function* (): AsyncGenerator<string> {
          yield* createInterface({ input: createReadStream(corpus.file, 'utf8'), crlfDelay: Infinity });
        };
        feeding = feedLines(kafka, lines(), { topic, format: 'json', jsonInput: true, rate: opts.rate, signal: abort.signal }).then(
          (result) => {
            if (!stopping) say(`fed all ${result.sent} poems; the run keeps going until Ctrl-C`);
          },
          (error: unknown) => {
            if (!stopping) say(`the feeder failed: ${describeError(error)}`);
          },
        );
        // The run ends only on Ctrl-C (or a fatal error).
        await Promise.race([interruptedP, run.finished]);
      } finally {
        abort.abort();
        await feeding;
        const summary = await run?.stop().catch((error: unknown) => {
          say(`the run stopped with an error: ${describeError(error)}`);
          return undefined;
        });
        await dashboard?.close();
        if (broker !== undefined) {
          say('stopping the local broker...');
          await broker.stop({ deleteData: true });
        }
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (summary !== undefined) say(`stopped cleanly after ${summary.labelled} poems (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        // Everything this command started is stopped; a client socket KafkaJS has not closed yet must not keep it alive.
        setTimeout(() => process.exit(), 3000).unref();
      }
    });
}
