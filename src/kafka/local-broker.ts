/**
 * A real single-node Apache Kafka broker (KRaft, combined broker + controller on 127.0.0.1) run from its
 * Maven Central jars, for development, tests, the demo and CI on machines without Docker.
 *
 * Settings follow ../shared/KAFKA-LOCAL.md: the defaults assume three brokers, so every replication factor
 * and ISR is lowered to 1, or the internal topics are never created and clients loop on
 * COORDINATOR_NOT_AVAILABLE.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ERROR_CODES, TokrsError } from '../errors.js';
import { DEFAULT_KAFKA_VERSION, ensureBrokerJars, hasCommand } from './broker-jars.js';
import { createKafka } from './client.js';
import { cacheDir } from './paths.js';

const brokerError = (message: string): TokrsError => new TokrsError(ERROR_CODES.BROKER, message);

const READY_LINE = 'Kafka Server started';
const STATE_FILE = 'tokrs-broker.json';

export interface LocalBrokerOptions {
  /** Folder for the broker's logs, properties and state file; created if missing. */
  dataDir: string;
  /** Client port; a free one is chosen when absent. */
  port?: number;
  /** Controller port; a free one is chosen when absent. */
  controllerPort?: number;
  cacheDir?: string;
  kafkaVersion?: string;
  /** Keep the broker running after this process exits (for `tokrs kafka up`). */
  detached?: boolean;
  startTimeoutMs?: number;
  /** Extra or overriding server.properties entries (security listeners, retention, …). */
  properties?: Record<string, string>;
  /** JVM heap, e.g. `512m`. */
  heap?: string;
  /**
   * Extra arguments to `kafka-storage format` when the storage is new, e.g.
   * `['--add-scram', 'SCRAM-SHA-256=[name=alice,password=alice-secret]']` (KafkaJS cannot create SCRAM users).
   */
  formatArgs?: readonly string[];
}

/** What the state file records, so `down` and `status` find the broker that `up` started. */
export interface BrokerState {
  pid: number;
  bootstrap: string;
  port: number;
  controllerPort: number;
  dataDir: string;
  propertiesFile: string;
  logFile: string;
  kafkaVersion: string;
  startedAt: string;
}

export function stateFile(dataDir: string): string {
  return join(resolve(dataDir), STATE_FILE);
}

export function readState(dataDir: string): BrokerState | undefined {
  const file = stateFile(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BrokerState;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and is the broker that `state` describes (not a process that reused the pid). */
export function isOurBroker(state: BrokerState): boolean {
  try {
    process.kill(state.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8');
    return cmdline.includes('kafka.Kafka') && cmdline.includes(state.propertiesFile);
  } catch {
    // No /proc (not Linux): the pid is alive and the state file names it; trust it.
    return true;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolveFree, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        brokerError(
          error.code === 'EADDRINUSE'
            ? `${what} port ${port} on 127.0.0.1 is already in use; choose another with --port, or stop what uses it`
            : `cannot use ${what} port ${port}: ${error.message}`,
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree()));
  });
}

function clusterId(): string {
  // 16 random bytes, URL-safe base64 without padding; KRaft rejects an id starting with '-'.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(opts: {
  port: number;
  controllerPort: number;
  logDirs: string;
  extra: Record<string, string>;
}): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${opts.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${opts.port},CONTROLLER://127.0.0.1:${opts.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${opts.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': opts.logDirs,
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    // Tests use short consumer session timeouts to make rebalances quick.
    'group.min.session.timeout.ms': '1000',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'auto.create.topics.enable': 'false',
    // Large enough for model snapshots of a 2^20-bucket model.
    'message.max.bytes': '67108864',
    'replica.fetch.max.bytes': '67108864',
    ...opts.extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

const LOG4J2 = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
`;

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '';
  }
}

export class LocalBroker {
  private exited = false;

  private constructor(
    readonly state: BrokerState,
    private readonly child: ChildProcess | undefined,
  ) {
    child?.once('exit', () => {
      this.exited = true;
    });
  }

  get bootstrap(): string {
    return this.state.bootstrap;
  }

  get pid(): number {
    return this.state.pid;
  }

  /** Starts a broker and resolves once a client can talk to it. */
  static async start(options: LocalBrokerOptions): Promise<LocalBroker> {
    if (!hasCommand('java')) {
      throw brokerError(
        'Java is not installed; the local Kafka broker needs Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`). ' +
          'Or run Kafka with Docker: `docker compose -f docker/compose.yaml up -d` and set KAFKA_BROKERS=127.0.0.1:9092.',
      );
    }
    const dataDir = resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const previous = readState(dataDir);
    if (previous !== undefined) {
      if (isOurBroker(previous)) {
        throw brokerError(
          `a broker is already running on data folder ${dataDir} (pid ${previous.pid}, ${previous.bootstrap}); ` +
            'use it, or stop it with `tokrs kafka down`',
        );
      }
      // Stale: the broker it names has gone (killed, machine restarted). Safe to start again.
      unlinkSync(stateFile(dataDir));
    }

    const version = options.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
    const lib = ensureBrokerJars(options.cacheDir ?? cacheDir(), version);
    const port = options.port ?? (await freePort());
    const controllerPort = options.controllerPort ?? (await freePort());
    if (port === controllerPort) throw brokerError(`client and controller ports must differ, both are ${port}`);
    await assertPortFree(port, 'client');
    await assertPortFree(controllerPort, 'controller');

    const logDirs = join(dataDir, 'kraft-logs');
    const propertiesFile = join(dataDir, 'server.properties');
    const log4jFile = join(dataDir, 'log4j2.properties');
    const logFile = join(dataDir, 'broker.log');
    writeFileSync(propertiesFile, serverProperties({ port, controllerPort, logDirs, extra: options.properties ?? {} }));
    writeFileSync(log4jFile, LOG4J2);
    const classpath = `${lib}/*`;
    const jvm = [
      `-Xms256m`,
      `-Xmx${options.heap ?? '768m'}`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      '-cp',
      classpath,
    ];

    if (!existsSync(join(logDirs, 'meta.properties'))) {
      const format = spawnSync(
        'java',
        [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesFile, '--ignore-formatted', ...(options.formatArgs ?? [])],
        { encoding: 'utf8' },
      );
      if (format.status !== 0) {
        throw brokerError(`formatting the broker's storage in ${logDirs} failed:\n${format.stdout}${format.stderr}`);
      }
    }

    const out = openSync(logFile, 'a');
    const child = spawn('java', [...jvm, 'kafka.Kafka', propertiesFile], {
      detached: options.detached ?? false,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    if (child.pid === undefined) throw brokerError('could not start java');
    if (options.detached) child.unref();

    const state: BrokerState = {
      pid: child.pid,
      bootstrap: `127.0.0.1:${port}`,
      port,
      controllerPort,
      dataDir,
      propertiesFile,
      logFile,
      kafkaVersion: version,
      startedAt: new Date().toISOString(),
    };
    const broker = new LocalBroker(state, child);
    try {
      await broker.waitReady(options.startTimeoutMs ?? 90_000);
    } catch (error) {
      await broker.stop({ graceMs: 5_000 });
      throw error;
    }
    writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 2)}\n`);
    return broker;
  }

  /** A handle on a broker started earlier (by `tokrs kafka up`), from its state file. */
  static attach(dataDir: string): LocalBroker | undefined {
    const state = readState(dataDir);
    if (state === undefined || !isOurBroker(state)) return undefined;
    return new LocalBroker(state, undefined);
  }

  private alive(): boolean {
    if (this.child !== undefined) return !this.exited;
    return isOurBroker(this.state);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive()) {
        const tail = lastLines(this.state.logFile, 15);
        const hint = tail.includes('Address already in use')
          ? ' A port is in use; choose another with --port.'
          : '';
        throw brokerError(`the Kafka broker exited during start.${hint} Last lines of ${this.state.logFile}:\n${tail}`);
      }
      if (existsSync(this.state.logFile) && readFileSync(this.state.logFile, 'utf8').includes(READY_LINE)) break;
      if (Date.now() > deadline) {
        throw brokerError(
          `the Kafka broker did not start within ${timeoutMs} ms. Last lines of ${this.state.logFile}:\n${lastLines(this.state.logFile, 15)}`,
        );
      }
      await sleep(200);
    }
    // The log line says the server started; a client round trip says it answers.
    const kafka = createKafka({ brokers: [this.bootstrap], clientId: 'tokrs-local-broker', level: 'nothing' });
    const admin = kafka.admin();
    for (;;) {
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        await admin.disconnect();
        if (cluster.brokers.length > 0) return;
      } catch {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) throw brokerError(`the Kafka broker at ${this.bootstrap} does not answer clients`);
      await sleep(200);
    }
  }

  /**
   * Stops exactly the process this broker is (SIGTERM, so Kafka's shutdown hook runs; SIGKILL after
   * `graceMs`), then removes the state file, and the data folder too with `deleteData`.
   */
  async stop(options: { graceMs?: number; deleteData?: boolean } = {}): Promise<void> {
    const grace = options.graceMs ?? 20_000;
    if (this.alive()) {
      signal(this.state.pid, 'SIGTERM');
      const deadline = Date.now() + grace;
      while (this.alive() && Date.now() < deadline) await sleep(100);
      if (this.alive()) {
        signal(this.state.pid, 'SIGKILL');
        const killDeadline = Date.now() + 5_000;
        while (this.alive() && Date.now() < killDeadline) await sleep(50);
      }
    }
    rmSync(stateFile(this.state.dataDir), { force: true });
    if (options.deleteData) rmSync(this.state.dataDir, { recursive: true, force: true });
  }

  /** Kills the broker with no chance to shut down cleanly, as a crash would (for fault-tolerance tests). */
  kill(): void {
    if (this.alive()) signal(this.state.pid, 'SIGKILL');
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
