/**
 * Kafka security on a real broker: a second local broker with a SASL_PLAINTEXT listener (SCRAM-SHA-256,
 * SCRAM-SHA-512 and PLAIN) next to its PLAINTEXT one. SCRAM users are created when its storage is formatted
 * (`kafka-storage format --add-scram`): KafkaJS 2.2 has no AlterUserScramCredentials request.
 * Right credentials produce and consume (and run a topology); wrong ones fail fast with TOKRS_ERR_KAFKA_AUTH
 * and a bounded number of attempts; no secret appears in logs, `describe` or metrics records.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES } from '../../src/codec/records.js';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { createKafka, type Kafka, type KafkaLogger } from '../../src/kafka/client.js';
import { LocalBroker, freePort } from '../../src/kafka/local-broker.js';
import { describeSecurity, mergeSecurity, resolveKafkaSecurity, type KafkaSecurityInput } from '../../src/kafka/security.js';
import { describeTopology } from '../../src/topology/describe.js';
import { parseTopology } from '../../src/topology/load.js';
import { readTopic, uniqueName } from '../support/kafka.js';
import { captureKafkaLogs, roundTrip, runThirtyMessages } from '../support/secure-kafka.js';

const SECRETS = { alice: 'alice-s3cret-256', bob: 'bob-s3cret-512', carol: 'carol-s3cret-plain' };
const env = { ALICE_PW: SECRETS.alice, BOB_PW: SECRETS.bob, CAROL_PW: SECRETS.carol, WRONG_PW: 'not-the-password' };

let broker: LocalBroker;
let plainBootstrap: string;
let saslBootstrap: string;
const { logger: capture, lines: logged } = captureKafkaLogs();
const roundTripOn = (kafka: Kafka): Promise<string[]> => roundTrip(kafka, plainBootstrap, 'sasl');

function saslKafka(security: KafkaSecurityInput, extra: { logger?: KafkaLogger; retries?: number } = {}): Kafka {
  return createKafka({
    brokers: [saslBootstrap],
    clientId: 'tokrs-security-test',
    level: 'debug',
    logger: extra.logger ?? capture,
    connectionTimeout: 3_000,
    ...(extra.retries === undefined ? {} : { retry: { retries: extra.retries, initialRetryTime: 100 } }),
    ...resolveKafkaSecurity(security, env),
  });
}

before(async () => {
  const port = await freePort();
  const controllerPort = await freePort();
  const saslPort = await freePort();
  const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  broker = await LocalBroker.start({
    dataDir: mkdtempSync(join(tmpdir(), 'tokrs-sasl-kafka-')),
    port,
    controllerPort,
    heap: '384m',
    properties: {
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': jaasScram,
      'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config': jaasScram,
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="${SECRETS.carol}";`,
    },
    formatArgs: [
      '--add-scram',
      `SCRAM-SHA-256=[name=alice,password=${SECRETS.alice}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=bob,password=${SECRETS.bob}]`,
    ],
  });
  plainBootstrap = broker.bootstrap;
  saslBootstrap = `127.0.0.1:${saslPort}`;
});

after(async () => {
  await broker?.stop({ deleteData: true, graceMs: 10_000 });
});

test('SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN with the right credentials produce and consume', async () => {
  assert.deepEqual(await roundTripOn(saslKafka({ sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordEnv: 'ALICE_PW' } })), ['one', 'two', '三']);
  const file = join(mkdtempSync(join(tmpdir(), 'tokrs-secret-')), 'bob.password');
  writeFileSync(file, `${SECRETS.bob}\n`, { mode: 0o600 });
  assert.deepEqual(await roundTripOn(saslKafka({ sasl: { mechanism: 'scram-sha-512', username: 'bob', passwordFile: file } })), ['one', 'two', '三']);
  assert.deepEqual(await roundTripOn(saslKafka({ sasl: { mechanism: 'plain', username: 'carol', passwordEnv: 'CAROL_PW' } })), ['one', 'two', '三']);
});

test('a wrong password fails fast with a TOKRS_ERR_KAFKA_AUTH, without a retry storm', async () => {
  for (const security of [
    { sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordEnv: 'WRONG_PW' } },
    { sasl: { mechanism: 'scram-sha-512', username: 'mallory', passwordEnv: 'WRONG_PW' } },
    { sasl: { mechanism: 'plain', username: 'carol', passwordEnv: 'WRONG_PW' } },
  ] as const) {
    const lines: string[] = [];
    const counting: KafkaLogger = { ...capture, debug: (m, e) => { lines.push(m); capture.debug(m, e); }, error: (m, e) => { lines.push(m); capture.error(m, e); } };
    const producer = saslKafka(security, { logger: counting }).producer();
    const started = Date.now();
    await assert.rejects(producer.connect(), (error: unknown) => {
      assert.ok(isTokrsError(error, ERROR_CODES.KAFKA_AUTH) && !error.retriable, String(error));
      assert.match(error.message, new RegExp(`SASL ${security.sasl.mechanism.toUpperCase()} authentication as ${security.sasl.username} was refused .*check the user name, the password`));
      assert.match((error.cause as Error).name, /SASLAuthentication|KafkaJSNonRetriableError/);
      return true;
    });
    const ms = Date.now() - started;
    const attempts = lines.filter((l) => /Connecting/.test(l)).length;
    await producer.disconnect().catch(() => undefined);
    assert.ok(ms < 10_000, `${security.sasl.mechanism}: failed after ${ms} ms`);
    assert.ok(attempts >= 1 && attempts <= 2, `${security.sasl.mechanism}: ${attempts} connection attempts`);
  }
});

test('missing secrets are a TOKRS_ERR_CONFIG naming the variable or file, never a value; inline secrets are refused', () => {
  const fails = (fn: () => unknown, pattern: RegExp): void =>
    assert.throws(fn, (e: unknown) => isTokrsError(e, ERROR_CODES.CONFIG) && pattern.test(e.message) && !e.message.includes(SECRETS.alice));
  fails(() => resolveKafkaSecurity({ sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordEnv: 'NOT_SET_ANYWHERE' } }, env), /NOT_SET_ANYWHERE is not set/);
  fails(() => resolveKafkaSecurity({ sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordFile: '/nonexistent/pw' } }, env), /cannot read \/nonexistent\/pw/);
  fails(() => resolveKafkaSecurity({ tls: { caFile: '/nonexistent/ca.pem' } }, env), /tls\.caFile/);
  const inline = `name: x\nsource:\n  topics: [a]\n  security:\n    sasl: { mechanism: plain, username: alice, password: ${SECRETS.alice} }\n`;
  assert.throws(() => parseTopology(inline, 'inline.yaml'), (e: unknown) => isTokrsError(e, ERROR_CODES.TOPOLOGY) && /inline secrets are not accepted/.test(e.message));
  // CLI flags and TOKRS_KAFKA_* override the topology, by name only.
  assert.deepEqual(
    mergeSecurity({ sasl: { mechanism: 'plain', username: 'carol', passwordEnv: 'CAROL_PW' } }, { saslMechanism: 'scram-sha-512', saslUsername: 'bob', saslPasswordEnv: 'BOB_PW' }, {}),
    { sasl: { mechanism: 'scram-sha-512', username: 'bob', passwordEnv: 'BOB_PW' } },
  );
  assert.deepEqual(mergeSecurity(undefined, {}, { TOKRS_KAFKA_SASL_MECHANISM: 'scram-sha-256', TOKRS_KAFKA_SASL_USERNAME: 'alice', TOKRS_KAFKA_SSL_CA: '/ca.pem' }), {
    sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordEnv: 'TOKRS_KAFKA_SASL_PASSWORD' },
    tls: { caFile: '/ca.pem' },
  });
});

test('a topology runs over SCRAM; no secret in logs, describe output or metrics records', async () => {
  const name = uniqueName('secure');
  const topology = parseTopology(
    `
name: ${name}
source:
  topics: [${name}-in]
  format: json
  security:
    sasl: { mechanism: scram-sha-256, username: alice, passwordEnv: ALICE_PW }
tokenize: { tokenizer: chars }
features: { bits: 12 }
evaluate: { reportEvery: 10, reportEveryMs: 0 }
outputs: { metrics: { topic: ${name}.metrics }, deadLetters: { topic: ${name}.dead } }
`,
    'secure.yaml',
  );
  const described = describeTopology(topology);
  assert.match(described, /SASL SCRAM-SHA-256 as alice \(password from \$ALICE_PW\)/);
  assert.equal(describeSecurity(undefined), 'plaintext, no authentication');

  const kafka = saslKafka(topology.source.security!);
  await withAdmin(createKafka({ brokers: [plainBootstrap], level: 'nothing' }), (admin) =>
    ensureTopics(admin, [{ topic: `${name}-in`, partitions: 1 }, { topic: `${name}.metrics`, partitions: 1 }, { topic: `${name}.dead`, partitions: 1 }]),
  );
  const { summary, logLines: pinoLines } = await runThirtyMessages(kafka, topology, `${name}-in`);
  assert.ok(JSON.stringify(summary).length > 0);

  const metrics = (await readTopic(kafka, `${name}.metrics`, 3, 20_000)).map((m) => m.value);
  assert.ok(metrics.length >= 3, `${metrics.length} metrics records`);
  const last = decodeRecord(SCHEMA_NAMES.metrics, metrics.at(-1)!);
  assert.equal(last.counts.seen, 30);

  const everything = [described, ...logged, ...pinoLines, ...metrics.map((m) => m.toString('latin1')), JSON.stringify(summary)].join('\n');
  for (const secret of Object.values(SECRETS)) assert.ok(!everything.includes(secret), `a secret was printed`);
  assert.ok(logged.length > 0 && pinoLines.length > 0, 'logs were captured, so their check means something');
});
