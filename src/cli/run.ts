/** `tokrs run <topology>`: runs a topology on Kafka until Ctrl-C (or, with --idle-exit, until caught up). */
import type { Command } from 'commander';
import { createKafka } from '../kafka/client.js';
import { addSecurityOptions, mergeSecurity, resolveKafkaSecurity, type SecurityFlags } from '../kafka/security.js';
import { createLogger } from '../observe/logger.js';
import { createTopologyMetrics } from '../observe/prometheus.js';
import { loadTopology } from '../topology/load.js';
import { startTopology } from '../topology/runner.js';
import { resolveBrokers } from './brokers.js';
import { DEFAULT_DASHBOARD_PORT, serveDashboard } from './dashboard.js';
import { integerFlag, portFlag } from './flags.js';

export function registerRun(program: Command): void {
  addSecurityOptions(program.command('run'))
    .description('run a topology on Kafka: consume, tokenize, sample, learn, publish metrics and snapshots')
    .argument('<topology>', 'topology file (YAML)')
    .option('--brokers <list>', 'Kafka brokers, comma-separated')
    .option('--idle-exit <ms>', 'stop once caught up: no new message for this long', integerFlag('--idle-exit', 1))
    .option('--run-id <id>', 'run id carried by every output record (default: a random UUID)')
    .option('--ui', 'also serve the live dashboard for this topology (127.0.0.1)', false)
    .option('--ui-port <n>', 'port of the --ui dashboard', portFlag('--ui-port', true), DEFAULT_DASHBOARD_PORT)
    .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:<n>/metrics', portFlag('--metrics-port', false))
    .option('--session-timeout <ms>', 'consumer group session timeout: how soon a dead process is noticed', integerFlag('--session-timeout', 1))
    .option('--instance <name>', 'this process within the consumer group; keys its checkpoint and transactional id', 'main')
    .action(async (file: string, opts: { brokers?: string; idleExit?: number; runId?: string; instance: string; ui: boolean; uiPort: number; sessionTimeout?: number; metricsPort?: number } & SecurityFlags) => {
      const topology = loadTopology(file);
      const logger = createLogger();
      // Read once: the run and its --ui dashboard connect with the same settings.
      const security = resolveKafkaSecurity(mergeSecurity(topology.source.security, opts));
      const kafka = createKafka({ brokers: resolveBrokers(opts.brokers, topology.source.brokers), clientId: `tokrs-${topology.name}`, ...security });
      const metrics = opts.metricsPort === undefined ? undefined : createTopologyMetrics(topology.name, opts.instance);
      if (metrics !== undefined && opts.metricsPort !== undefined) {
        await metrics.listen(opts.metricsPort);
        logger.info({ step: 'observe', url: `http://127.0.0.1:${opts.metricsPort}/metrics` }, 'Prometheus metrics');
      }
      const run = await startTopology(topology, {
        kafka,
        logger,
        instance: opts.instance,
        ...(metrics === undefined ? {} : { metrics }),
        ...(opts.sessionTimeout === undefined ? {} : { sessionTimeout: opts.sessionTimeout }),
        ...(opts.idleExit === undefined ? {} : { idleExitMs: opts.idleExit }),
        ...(opts.runId === undefined ? {} : { runId: opts.runId }),
      });
      logger.info({ step: 'run', runId: run.runId }, 'running; Ctrl-C stops after flushing outputs and committing offsets');
      const dashboard = opts.ui
        ? await serveDashboard([topology], resolveBrokers(opts.brokers, topology.source.brokers), { port: opts.uiPort, security })
        : undefined;
      if (dashboard !== undefined) process.stderr.write(`tokrs run: dashboard at ${dashboard.url}\n`);
      const stop = (): void => {
        logger.info({ step: 'run' }, 'stopping');
        // Its failure, if any, is reported by `run.finished` below.
        run.stop().catch(() => undefined);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const summary = await run.finished.finally(() => Promise.all([dashboard?.close(), metrics?.close()]));
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
