/** `tokrs dashboard [topology.yaml…]`: the live dashboard for running topologies, on 127.0.0.1 by default. */
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { addSecurityOptions, mergeSecurity, resolveKafkaSecurity, type KafkaSecurityOptions, type SecurityFlags } from '../kafka/security.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { startDashboard, type DashboardHandle } from '../observe/dashboard/server.js';
import { loadTopology } from '../topology/load.js';
import type { Topology } from '../topology/spec.js';
import { resolveBrokers } from './brokers.js';
import { portFlag } from './flags.js';

/** The demo's topology, shipped with the package: the dashboard's default, from any working directory. */
export const DEMO_TOPOLOGY = fileURLToPath(new URL('../../topologies/poetry-dynasty.yaml', import.meta.url));

export interface DashboardFlags {
  port?: number;
  host?: string;
  token?: string;
  /** SASL and TLS for the dashboard's Kafka client (default: plaintext). */
  security?: KafkaSecurityOptions;
  /** Default: JSON logs on standard error. */
  logger?: Logger;
}

export const DEFAULT_DASHBOARD_PORT = 8790;

/** Starts the dashboard for topologies already loaded (also used by `tokrs run --ui` and `tokrs demo`). */
export async function serveDashboard(topologies: readonly Topology[], brokers: readonly string[], flags: DashboardFlags): Promise<DashboardHandle> {
  return startDashboard({
    topologies,
    brokers,
    host: flags.host ?? '127.0.0.1',
    port: flags.port ?? DEFAULT_DASHBOARD_PORT,
    logger: flags.logger ?? createLogger(),
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.security === undefined ? {} : { security: flags.security }),
  });
}

/**
 * Where `tokrs dashboard` connects and how: the brokers and `source.security` of the first topology (one
 * client serves them all), overridden by TOKRS_KAFKA_* variables and the flags, as for `tokrs run`.
 */
export function dashboardKafka(
  topologies: readonly Topology[],
  opts: { brokers?: string } & SecurityFlags,
  env: NodeJS.ProcessEnv = process.env,
): { brokers: string[]; security: KafkaSecurityOptions } {
  const first = topologies[0]?.source;
  return {
    brokers: resolveBrokers(opts.brokers, first?.brokers, env),
    security: resolveKafkaSecurity(mergeSecurity(first?.security, opts, env), env),
  };
}

export function registerDashboard(program: Command): void {
  addSecurityOptions(program.command('dashboard'))
    .description('serve a live dashboard of running topologies: metrics, lag, label mix, dead letters, snapshots, try-it box')
    .argument('[topologies...]', 'topology files (YAML); the demo topology (topologies/poetry-dynasty.yaml of this package) when none is given')
    .option('--brokers <list>', 'Kafka brokers, comma-separated')
    .option('--port <n>', `HTTP port (0: any free port)`, portFlag('--port', true), DEFAULT_DASHBOARD_PORT)
    .option('--host <host>', 'address to listen on; anything but 127.0.0.1 exposes the data to your network', '127.0.0.1')
    .option('--token <token>', 'require this token (Authorization: Bearer, or ?token=) on every page and API call')
    .action(async (files: string[], opts: { brokers?: string; port: number; host: string; token?: string } & SecurityFlags) => {
      // The package's own file, wherever the command runs from.
      const topologies = (files.length === 0 ? [DEMO_TOPOLOGY] : files).map((f) => loadTopology(f));
      const { brokers, security } = dashboardKafka(topologies, opts);
      const dashboard = await serveDashboard(topologies, brokers, { ...opts, security });
      process.stdout.write(`tokrs dashboard: ${dashboard.url}  (Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await dashboard.close();
    });
}
