/**
 * TLS on a real broker: a second local broker with three TLS listeners next to its PLAINTEXT one, all with
 * certificates made by `openssl` for this run (test/support/tls.ts) and read by Kafka as PEM:
 *   SSL       TLS, the broker authenticates nobody
 *   SASL_SSL  TLS plus SCRAM-SHA-512 (the user is created when the storage is formatted)
 *   MTLS      TLS with `ssl.client.auth=required`: clients need a certificate signed by the test CA
 * The right CA (and client certificate) produces, consumes, runs a topology and feeds the dashboard, also
 * through `tokrs dashboard`'s flags; a wrong CA or a missing or foreign client certificate is a
 * TOKRS_ERR_KAFKA_AUTH before KafkaJS opens a single connection; no secret (SCRAM password, key passphrase,
 * private key) appears in logs, `describe` output, metrics records or the dashboard's API.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES } from '../../src/codec/records.js';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { createKafka, type Kafka, type KafkaLogger } from '../../src/kafka/client.js';
import { LocalBroker, freePort } from '../../src/kafka/local-broker.js';
import { resolveKafkaSecurity, type KafkaSecurityInput } from '../../src/kafka/security.js';
import { startDashboard } from '../../src/observe/dashboard/server.js';
import { describeTopology } from '../../src/topology/describe.js';
import { parseTopology } from '../../src/topology/load.js';
import { startTopology } from '../../src/topology/runner.js';
import { eventually, uniqueName } from '../support/kafka.js';
import { captureKafkaLogs, roundTrip, runThirtyMessages } from '../support/secure-kafka.js';
import { makeTestPki, type TestPki } from '../support/tls.js';

const SCRAM_PASSWORD = 'dave-s3cret-512';
let pki: TestPki;
let env: NodeJS.ProcessEnv;
let broker: LocalBroker;
let plainBootstrap: string;
let sslBootstrap: string;
let saslSslBootstrap: string;
let mtlsBootstrap: string;
const { logger: capture, lines: logged } = captureKafkaLogs();
const roundTripOn = (kafka: Kafka): Promise<string[]> => roundTrip(kafka, plainBootstrap, 'tls');

/** The secret strings of this run: the SCRAM password, the key passphrase, and the body of every private key. */
function secrets(): string[] {
  const keyBodies = [pki.clientKeyFile, pki.strangerKeyFile].map((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((line) => line.length > 40 && !line.startsWith('-----'))[0]!,
  );
  return [SCRAM_PASSWORD, pki.clientKeyPassphrase, ...keyBodies];
}

function client(bootstrap: string, security: KafkaSecurityInput, logger: KafkaLogger = capture): Kafka {
  return createKafka({
    brokers: [bootstrap],
    clientId: 'tokrs-tls-test',
    level: 'debug',
    logger,
    connectionTimeout: 3_000,
    ...resolveKafkaSecurity(security, env),
  });
}

const mtls = (): KafkaSecurityInput => ({ tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile, keyPasswordEnv: 'CLIENT_KEY_PASS' } });
const saslSsl = (): KafkaSecurityInput => ({ sasl: { mechanism: 'scram-sha-512', username: 'dave', passwordEnv: 'DAVE_PW' }, tls: { caFile: pki.caFile } });

before(async () => {
  pki = makeTestPki();
  env = { DAVE_PW: SCRAM_PASSWORD, CLIENT_KEY_PASS: pki.clientKeyPassphrase };
  const port = await freePort();
  const controllerPort = await freePort();
  const [sslPort, saslSslPort, mtlsPort] = [await freePort(), await freePort(), await freePort()];
  broker = await LocalBroker.start({
    dataDir: mkdtempSync(join(tmpdir(), 'tokrs-tls-kafka-')),
    port,
    controllerPort,
    heap: '384m',
    properties: {
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort},MTLS://127.0.0.1:${mtlsPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort},MTLS://127.0.0.1:${mtlsPort}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL',
      // PEM key and certificate chain in one file, and the CA as truststore: Kafka 4 reads PEM directly.
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': pki.brokerKeystoreFile,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': pki.caFile,
      'listener.name.mtls.ssl.client.auth': 'required',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    },
    formatArgs: ['--add-scram', `SCRAM-SHA-512=[name=dave,password=${SCRAM_PASSWORD}]`],
  });
  plainBootstrap = broker.bootstrap;
  sslBootstrap = `127.0.0.1:${sslPort}`;
  saslSslBootstrap = `127.0.0.1:${saslSslPort}`;
  mtlsBootstrap = `127.0.0.1:${mtlsPort}`;
});

after(async () => {
  await broker?.stop({ deleteData: true, graceMs: 10_000 });
  if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
});

/** Topics are created on the PLAINTEXT listener, as an operator would; the TLS clients only read and write. */
async function createTopics(...topics: string[]): Promise<void> {
  await withAdmin(createKafka({ brokers: [plainBootstrap], level: 'nothing' }), (admin) => ensureTopics(admin, topics.map((topic) => ({ topic, partitions: 1 }))));
}

test('the right CA produces and consumes over SSL, SASL_SSL with SCRAM and mTLS with a client certificate', async () => {
  assert.deepEqual(await roundTripOn(client(sslBootstrap, { tls: { caFile: pki.caFile } })), ['one', 'two', '三']);
  assert.deepEqual(await roundTripOn(client(saslSslBootstrap, saslSsl())), ['one', 'two', '三']);
  assert.deepEqual(await roundTripOn(client(mtlsBootstrap, mtls())), ['one', 'two', '三']);
  // The passphrase from a file instead of a variable.
  const file = join(mkdtempSync(join(tmpdir(), 'tokrs-secret-')), 'key.pass');
  writeFileSync(file, `${pki.clientKeyPassphrase}\n`, { mode: 0o600 });
  const fromFile = { tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile, keyPasswordFile: file } };
  assert.deepEqual(await roundTripOn(client(mtlsBootstrap, fromFile)), ['one', 'two', '三']);
});

/**
 * Connects a producer, a consumer and an admin with `security` and expects each to fail with
 * TOKRS_ERR_KAFKA_AUTH matching `message`, before KafkaJS has made a single connection attempt.
 */
async function expectRefused(bootstrap: string, security: KafkaSecurityInput, message: RegExp): Promise<void> {
  const attempts: string[] = [];
  const counting: KafkaLogger = { ...capture, debug: (m, e) => { if (/Connecting/.test(m)) attempts.push(m); capture.debug(m, e); } };
  const kafka = client(bootstrap, security, counting);
  for (const [what, connect] of [
    ['producer', () => kafka.producer().connect()],
    ['consumer', () => kafka.consumer({ groupId: uniqueName('refused') }).connect()],
    ['admin', () => kafka.admin().connect()],
  ] as const) {
    const started = Date.now();
    await assert.rejects(connect(), (error: unknown) => {
      assert.ok(isTokrsError(error, ERROR_CODES.KAFKA_AUTH), `${what}: ${String(error)}`);
      assert.equal(error.retriable, false);
      assert.match(error.message, message);
      return true;
    });
    // A bound, not a measurement: KafkaJS's retries of a refused certificate take about 9 s.
    assert.ok(Date.now() - started < 5_000, `${what}: refused after ${Date.now() - started} ms`);
  }
  assert.deepEqual(attempts, [], 'KafkaJS connected anyway');
}

test('a wrong CA is a TOKRS_ERR_KAFKA_AUTH at once, with no connection attempt by KafkaJS', async () => {
  const wrongCa = /certificate of broker 127\.0\.0\.1:\d+ is not trusted .*not signed by the CA in source\.security\.tls\.caFile/;
  await expectRefused(sslBootstrap, { tls: { caFile: pki.otherCaFile } }, wrongCa);
  await expectRefused(saslSslBootstrap, { ...saslSsl(), tls: { caFile: pki.otherCaFile } }, wrongCa);
  // No caFile: the system CAs do not know the test CA either.
  await expectRefused(sslBootstrap, { tls: {} }, /is not trusted .*set source\.security\.tls\.caFile/);

  // What a user of `tokrs run` sees: the run does not start, with the same error.
  const name = uniqueName('tls-wrong-ca');
  const topology = parseTopology(
    `name: ${name}\nsource:\n  topics: [${name}-in]\n  security:\n    tls: { caFile: ${pki.otherCaFile} }\ntokenize: { tokenizer: chars }\noutputs: { metrics: { topic: ${name}.metrics } }\n`,
    'wrong-ca.yaml',
  );
  const started = Date.now();
  await assert.rejects(
    startTopology(topology, { kafka: client(sslBootstrap, topology.source.security!), idleExitMs: 1_000 }).then((run) => run.finished),
    (error: unknown) => isTokrsError(error, ERROR_CODES.KAFKA_AUTH) && wrongCa.test(error.message),
  );
  assert.ok(Date.now() - started < 5_000, `the run failed after ${Date.now() - started} ms`);
});

test('a dashboard with a wrong CA shows the refusal on its page and warns in its log', async () => {
  const name = uniqueName('tls-ui-wrong-ca');
  const topology = parseTopology(`name: ${name}\nsource:\n  topics: [${name}-in]\ntokenize: { tokenizer: chars }\noutputs: { metrics: { topic: ${name}.metrics } }\n`, 'ui.yaml');
  await createTopics(`${name}-in`, `${name}.metrics`);
  const lines: string[] = [];
  const { default: pino } = await import('pino');
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const dashboard = await startDashboard({ topologies: [topology], brokers: [sslBootstrap], security: resolveKafkaSecurity({ tls: { caFile: pki.otherCaFile } }, env), logger, lagIntervalMs: 500 });
  try {
    const status = await eventually(async () => {
      const view = (await (await fetch(`${dashboard.url}api/state?topology=${name}`)).json()) as { status: { state: string; detail?: string } };
      return view.status.state === 'reconnecting' && /TLS: the certificate of broker .* is not trusted/.test(view.status.detail ?? '') ? view.status : undefined;
    }, 30_000, 'the dashboard to show the refused certificate');
    assert.match(status.detail!, /source\.security\.tls\.caFile/);
    await eventually(() => (lines.some((l) => l.includes('"level":40') && l.includes(ERROR_CODES.KAFKA_AUTH)) ? true : undefined), 10_000, 'a warning with the code in the log');
  } finally {
    await dashboard.close();
  }
});

test('mTLS: no client certificate, or one signed by another CA, is refused clearly', async () => {
  await expectRefused(mtlsBootstrap, { tls: { caFile: pki.caFile } }, /refused the connection .*asks for a client certificate \(mTLS\): set source\.security\.tls\.certFile and keyFile/);
  await expectRefused(
    mtlsBootstrap,
    { tls: { caFile: pki.caFile, certFile: pki.strangerCertFile, keyFile: pki.strangerKeyFile } },
    /refused the client certificate .*signed by a CA in the broker's truststore/,
  );
});

test('a wrong SCRAM password over SASL_SSL is a TOKRS_ERR_KAFKA_AUTH too', async () => {
  const kafka = createKafka({ brokers: [saslSslBootstrap], level: 'nothing', connectionTimeout: 3_000, ...resolveKafkaSecurity(saslSsl(), { DAVE_PW: 'not-the-password' }) });
  await assert.rejects(kafka.producer().connect(), (error: unknown) =>
    isTokrsError(error, ERROR_CODES.KAFKA_AUTH) && /SASL SCRAM-SHA-512 authentication as dave was refused/.test(error.message) && !error.message.includes('not-the-password'),
  );
});

/** Every record of a topic, read from the beginning by a throwaway group. */
async function readAll(kafka: Kafka, topic: string, atLeast: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void out.push(message.value!) });
  await eventually(() => (out.length >= atLeast ? true : undefined), 30_000, `${atLeast} records in ${topic}`);
  await consumer.disconnect();
  return out;
}

/** `tokrs dashboard` as a user starts it; resolves with its URL and a way to stop it. */
async function dashboardProcess(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'dashboard', ...args], { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => void (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => void (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await eventually(() => /tokrs dashboard: (http:\/\/\S+)/.exec(output)?.[1] ?? (child.exitCode !== null ? 'exited' : undefined), 60_000, 'the dashboard URL');
  if (url === 'exited') throw new Error(`tokrs dashboard exited:\n${output}`);
  return {
    url,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('a topology runs over SASL_SSL; the dashboard follows it over mTLS (API and CLI flags); no secret is shown', async () => {
  const name = uniqueName('tls-run');
  const yaml = `
name: ${name}
source:
  topics: [${name}-in]
  format: json
  security:
    sasl: { mechanism: scram-sha-512, username: dave, passwordEnv: DAVE_PW }
    tls: { caFile: ${pki.caFile} }
tokenize: { tokenizer: chars }
features: { bits: 12 }
evaluate: { reportEvery: 10, reportEveryMs: 0 }
outputs:
  metrics: { topic: ${name}.metrics }
  deadLetters: { topic: ${name}.dead }
  predictions: { topic: ${name}.predictions }
  snapshots: { topic: ${name}.snapshots, everyMessages: 10 }
`;
  const topology = parseTopology(yaml, 'tls.yaml');
  const described = describeTopology(topology);
  assert.match(described, new RegExp(`SASL SCRAM-SHA-512 as dave \\(password from \\$DAVE_PW\\), TLS \\(CA ${pki.caFile.replace(/[.]/g, '\\.')}\\)`));
  await createTopics(`${name}-in`, `${name}.metrics`, `${name}.dead`, `${name}.predictions`, `${name}.snapshots`);

  const kafka = client(saslSslBootstrap, topology.source.security!);
  const { summary, logLines: pinoLines, logger } = await runThirtyMessages(kafka, topology, `${name}-in`);
  const metrics = await readAll(kafka, `${name}.metrics`, 3);
  assert.equal(decodeRecord(SCHEMA_NAMES.metrics, metrics.at(-1)!).counts.seen, 30);

  // The dashboard with the resolved security options, over the listener that wants a client certificate.
  const dashboard = await startDashboard({ topologies: [topology], brokers: [mtlsBootstrap], security: resolveKafkaSecurity(mtls(), env), logger, lagIntervalMs: 500 });
  let state = '';
  try {
    const view = await eventually(async () => {
      const body = (await (await fetch(`${dashboard.url}api/state?topology=${name}`)).json()) as { points: unknown[] };
      return body.points.length === metrics.length ? body : undefined;
    }, 30_000, 'the dashboard to show every metrics record');
    state = JSON.stringify(view);
    // The try-it box predicts with the last snapshot and publishes through the dashboard's own producer.
    await eventually(() => dashboard.watchers.get(name)!.history.snapshotRecord, 30_000, 'a snapshot in the dashboard');
    const tried = await fetch(`${dashboard.url}api/try`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topology: name, text: 'text 3' }) });
    const result = (await tried.json()) as { published?: boolean };
    assert.equal(result.published, true, JSON.stringify(result));
  } finally {
    await dashboard.close();
  }
  assert.equal((await readAll(kafka, `${name}.predictions`, 1)).length, 1);

  // `tokrs dashboard` with the CLI flags and the passphrase in TOKRS_KAFKA_SSL_KEY_PASSWORD.
  const file = join(mkdtempSync(join(tmpdir(), 'tokrs-topology-')), 'tls.yaml');
  writeFileSync(file, yaml.replace(/ {2}security:\n( {4}.*\n)+/, ''));
  const cli = await dashboardProcess(
    [file, '--brokers', mtlsBootstrap, '--port', '0', '--ssl-ca', pki.caFile, '--ssl-cert', pki.clientCertFile, '--ssl-key', pki.clientKeyFile],
    { TOKRS_KAFKA_SSL_KEY_PASSWORD: pki.clientKeyPassphrase, TOKRS_KAFKA_LOG_LEVEL: 'debug' },
  );
  try {
    await eventually(async () => {
      const body = (await (await fetch(`${cli.url}api/state?topology=${name}`)).json()) as { points: unknown[] };
      return body.points.length === metrics.length ? true : undefined;
    }, 30_000, `tokrs dashboard to show every metrics record; its output:\n${cli.output()}`);
  } finally {
    await cli.stop();
  }

  const everything = [described, ...logged, ...pinoLines, ...metrics.map((m) => m.toString('latin1')), JSON.stringify(summary), state, cli.output()].join('\n');
  for (const secret of secrets()) assert.ok(!everything.includes(secret), 'a secret was printed');
  assert.ok(logged.length > 0 && pinoLines.length > 0 && cli.output().length > 0, 'logs were captured, so their check means something');
});
