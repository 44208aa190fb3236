/**
 * TLS settings without a broker: the client certificate, key and passphrase are checked when the settings
 * are read (a wrong passphrase or a foreign key is a TOKRS_ERR_CONFIG naming files, never a secret), the
 * key passphrase merges from flags and TOKRS_KAFKA_SSL_KEY_PASSWORD like the SASL password, and the
 * description names where it comes from. The broker side is test/integration/security-tls.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { describeSecurity, kafkaSecuritySchema, mergeSecurity, resolveKafkaSecurity } from '../../src/kafka/security.js';
import { makeTestPki, type TestPki } from '../support/tls.js';

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => rmSync(pki.dir, { recursive: true, force: true }));

function refused(security: Parameters<typeof resolveKafkaSecurity>[0], env: NodeJS.ProcessEnv, pattern: RegExp): void {
  assert.throws(
    () => resolveKafkaSecurity(security, env),
    (e: unknown) => {
      assert.ok(isTokrsError(e, ERROR_CODES.CONFIG), String(e));
      assert.match(e.message, pattern);
      for (const secret of Object.values(env)) assert.ok(!e.message.includes(secret!), 'the message shows a secret');
      return true;
    },
  );
}

test('an encrypted key with its passphrase resolves to KafkaJS TLS options', () => {
  const ssl = resolveKafkaSecurity(
    { tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile, keyPasswordEnv: 'PASS' } },
    { PASS: pki.clientKeyPassphrase },
  ).ssl;
  assert.ok(typeof ssl === 'object');
  assert.deepEqual(ssl.ca, [readFileSync(pki.caFile, 'utf8').replace(/\n$/, '')]);
  assert.equal(ssl.passphrase, pki.clientKeyPassphrase);
  assert.equal(ssl.rejectUnauthorized, true);
});

test('a wrong or missing passphrase, a foreign key and a CA that is not PEM are refused at load, naming files', () => {
  const tls = { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile };
  refused({ tls: { ...tls, keyPasswordEnv: 'PASS' } }, { PASS: 'not-the-passphrase' }, /tokrs-client\.enc\.key\): the key cannot be decrypted with the passphrase from \$PASS/);
  refused({ tls }, {}, /the key is encrypted: give its passphrase with keyPasswordEnv or keyPasswordFile/);
  refused({ tls: { ...tls, keyFile: pki.strangerKeyFile } }, {}, /stranger\.key\): the key does not belong to the certificate/);
  const notPem = join(pki.dir, 'not-a-ca.pem');
  writeFileSync(notPem, 'this is not a certificate\n');
  refused({ tls: { caFile: notPem } }, {}, /tls\.caFile: .*not-a-ca\.pem holds no PEM certificate/);
  refused({ tls: { ...tls, keyPasswordFile: join(pki.dir, 'missing') } }, {}, /keyPasswordFile: cannot read .*missing \(ENOENT\)/);
});

test('the schema refuses two passphrase sources, and a passphrase without a key', () => {
  const both = kafkaSecuritySchema.safeParse({ tls: { certFile: 'c', keyFile: 'k', keyPasswordEnv: 'A', keyPasswordFile: 'f' } });
  assert.match(JSON.stringify(both.error?.issues), /at most one of keyPasswordEnv and keyPasswordFile/);
  const alone = kafkaSecuritySchema.safeParse({ tls: { keyPasswordEnv: 'A' } });
  assert.match(JSON.stringify(alone.error?.issues), /a key passphrase needs keyFile/);
});

test('the key passphrase merges from flags and TOKRS_KAFKA_SSL_KEY_PASSWORD, by name only; describe says where it is', () => {
  const topology = { tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', keyPasswordEnv: 'TOPOLOGY_PASS' } };
  assert.deepEqual(mergeSecurity(topology, { sslKeyPasswordFile: '/run/secrets/key' }, {}), {
    tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', keyPasswordFile: '/run/secrets/key' },
  });
  // The variable does not override a place the topology names, but serves a key given by flags alone.
  assert.deepEqual(mergeSecurity(topology, {}, { TOKRS_KAFKA_SSL_KEY_PASSWORD: 'x' }), topology);
  assert.deepEqual(mergeSecurity(undefined, { sslCert: '/c.pem', sslKey: '/k.pem' }, { TOKRS_KAFKA_SSL_KEY_PASSWORD: 'x' }), {
    tls: { certFile: '/c.pem', keyFile: '/k.pem', keyPasswordEnv: 'TOKRS_KAFKA_SSL_KEY_PASSWORD' },
  });
  assert.deepEqual(mergeSecurity(undefined, { sslCert: '/c.pem', sslKey: '/k.pem' }, {}), { tls: { certFile: '/c.pem', keyFile: '/k.pem' } });
  assert.equal(describeSecurity(topology), 'TLS (CA /ca.pem), client certificate /c.pem (key passphrase from $TOPOLOGY_PASS)');
});
