/**
 * `tokrs dashboard` and `tokrs run --ui` take the same Kafka security settings as `run`, through the same
 * parsing (src/kafka/security.ts). The dashboard on a TLS broker, also started through these flags, is in
 * test/integration/security-tls.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { Command } from 'commander';
import { dashboardKafka, registerDashboard } from '../../src/cli/dashboard.js';
import { registerRun } from '../../src/cli/run.js';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { parseTopology } from '../../src/topology/load.js';
import { makeTestPki } from '../support/tls.js';

const SECURITY_FLAGS = ['--sasl-mechanism', '--sasl-username', '--sasl-password-env', '--sasl-password-file', '--tls', '--ssl-ca', '--ssl-cert', '--ssl-key', '--ssl-key-password-env', '--ssl-key-password-file'];

test('dashboard and run (for --ui) take every security flag', () => {
  const program = new Command();
  registerDashboard(program);
  registerRun(program);
  for (const name of ['dashboard', 'run']) {
    const longs = program.commands.find((c) => c.name() === name)!.options.map((o) => o.long);
    assert.deepEqual(SECURITY_FLAGS.filter((f) => !longs.includes(f)), [], `${name} lacks flags`);
  }
});

test("the dashboard connects with the first topology's security, overridden by variables and flags, secrets read once", () => {
  const pki = makeTestPki();
  const topology = parseTopology(
    `name: ui\nsource:\n  topics: [t]\n  brokers: ['10.0.0.1:9093']\n  security:\n    sasl: { mechanism: scram-sha-256, username: alice, passwordEnv: ALICE_PW }\ntokenize: { tokenizer: chars }\n`,
    'ui.yaml',
  );
  const env = { ALICE_PW: 'alice-pw', BOB_PW: 'bob-pw', TOKRS_KAFKA_SSL_CA: pki.caFile, TOKRS_KAFKA_SSL_KEY_PASSWORD: pki.clientKeyPassphrase };
  const fromTopology = dashboardKafka([topology], {}, { ALICE_PW: 'alice-pw' });
  assert.deepEqual(fromTopology, { brokers: ['10.0.0.1:9093'], security: { sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-pw' } } });

  const flagged = dashboardKafka(
    [topology],
    { brokers: '127.0.0.1:9094', saslMechanism: 'scram-sha-512', saslUsername: 'bob', saslPasswordEnv: 'BOB_PW', sslCert: pki.clientCertFile, sslKey: pki.clientKeyFile },
    env,
  );
  assert.deepEqual(flagged.brokers, ['127.0.0.1:9094']);
  assert.deepEqual(flagged.security.sasl, { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-pw' });
  const ssl = flagged.security.ssl;
  assert.ok(typeof ssl === 'object');
  assert.deepEqual(ssl.ca, [readFileSync(pki.caFile, 'utf8').replace(/\n$/, '')]);
  assert.equal(ssl.passphrase, pki.clientKeyPassphrase);

  // The same validation as for topologies: a missing variable is a TOKRS_ERR_CONFIG naming it.
  assert.throws(
    () => dashboardKafka([topology], { brokers: '127.0.0.1:9094' }, {}),
    (e: unknown) => isTokrsError(e, ERROR_CODES.CONFIG) && /ALICE_PW is not set/.test(e.message),
  );
  rmSync(pki.dir, { recursive: true, force: true });
});
