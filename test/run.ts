/**
 * The test command: finds test files, starts one local Kafka broker for the whole run (unless
 * KAFKA_BROKERS names a cluster, or --unit asks for pure unit tests only), runs node's test runner with
 * the broker's address in KAFKA_BROKERS, and stops the broker afterwards.
 *
 * With TOKRS_TEST_KAFKA=testcontainers and a reachable Docker engine, the broker is a container of
 * @testcontainers/kafka (confluentinc/cp-kafka in KRaft mode) instead. These machines have no Docker
 * engine, so that path is not exercised here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBroker } from '../src/kafka/local-broker.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

let files = findTests(join(root, 'test')).map((f) => relative(root, f)).sort();
if (unitOnly) files = files.filter((f) => !f.startsWith('test/integration/'));
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
const needsKafka = files.some((f) => f.startsWith('test/integration/'));

let broker: LocalBroker | undefined;
let container: { stop(): Promise<unknown> } | undefined;
const env = { ...process.env };
if (needsKafka && (env.KAFKA_BROKERS ?? '') === '' && env.TOKRS_TEST_KAFKA === 'testcontainers') {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const started = await new KafkaContainer('confluentinc/cp-kafka:8.0.0')
    .withKraft()
    // The module leaves the transaction log at three replicas; one broker needs one for transactions.
    .withEnvironment({ KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1', KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1', KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false' })
    .start()
    .catch((error: unknown) => {
      throw new Error(
        `TOKRS_TEST_KAFKA=testcontainers needs a reachable Docker engine (${error instanceof Error ? error.message : String(error)}); unset it to use the local broker from Maven jars`,
      );
    });
  container = started;
  env.KAFKA_BROKERS = `${started.getHost()}:${started.getMappedPort(9093)}`;
  process.stdout.write(`test broker (testcontainers) ${env.KAFKA_BROKERS}\n`);
} else if (needsKafka && (env.KAFKA_BROKERS ?? '') === '') {
  const started = Date.now();
  broker = await LocalBroker.start({ dataDir: mkdtempSync(join(tmpdir(), 'tokrs-test-kafka-')) });
  env.KAFKA_BROKERS = broker.bootstrap;
  env.TOKRS_TEST_BROKER_DATA = broker.state.dataDir;
  env.TOKRS_TEST_BROKER_PID = String(broker.pid);
  process.stdout.write(`test broker ${broker.bootstrap} started in ${Date.now() - started} ms\n`);
}

const stopBroker = async (): Promise<void> => {
  if (broker !== undefined) await broker.stop({ deleteData: true, graceMs: 10_000 });
  broker = undefined;
  await container?.stop();
  container = undefined;
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopBroker().then(() => process.exit(130));
  });
}

const started = Date.now();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const code: number = await new Promise((resolveCode) => child.on('exit', (c, s) => resolveCode(c ?? (s ? 1 : 0))));
await stopBroker();
process.stdout.write(`test run took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(code);
