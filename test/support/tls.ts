/**
 * Throwaway certificates for the TLS tests, made with `openssl` at test time (nothing is checked in): a CA,
 * a broker certificate for 127.0.0.1 signed by it, a client certificate signed by it (its key encrypted
 * with a passphrase), and a second, unrelated CA with a client certificate of its own, to play the wrong
 * CA and the stranger's certificate. All keys are EC P-256 in PKCS#8 PEM, which Kafka reads directly with
 * `ssl.keystore.type=PEM` (no JKS, no keytool).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** The CA that signed the broker and client certificates. */
  caFile: string;
  /** Key followed by certificate, for Kafka's `ssl.keystore.location` with `ssl.keystore.type=PEM`. */
  brokerKeystoreFile: string;
  clientCertFile: string;
  /** Encrypted PKCS#8; its passphrase is `clientKeyPassphrase`. */
  clientKeyFile: string;
  clientKeyPassphrase: string;
  /** A CA that signed nothing the broker has. */
  otherCaFile: string;
  /** A client certificate and (unencrypted) key signed by the other CA. */
  strangerCertFile: string;
  strangerKeyFile: string;
}

function openssl(args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8', env });
  if (result.error !== undefined) throw new Error(`openssl is needed for the TLS tests: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed:\n${result.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...EC_KEY, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=tokrs test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-out', cert, '-extfile', ext]);
  return { cert, key };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tokrs-pki-'));
  const ca = makeCa(dir, 'ca');
  const broker = makeLeaf(dir, 'broker', ca,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const brokerKeystoreFile = join(dir, 'broker-keystore.pem');
  writeFileSync(brokerKeystoreFile, readFileSync(broker.key, 'utf8') + readFileSync(broker.cert, 'utf8'), { mode: 0o600 });

  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  const client = makeLeaf(dir, 'tokrs-client', ca, clientExt);
  const clientKeyPassphrase = `key-pass-${randomBytes(6).toString('hex')}`;
  const clientKeyFile = join(dir, 'tokrs-client.enc.key');
  openssl(['pkcs8', '-topk8', '-in', client.key, '-out', clientKeyFile, '-v2', 'aes-256-cbc', '-passout', 'env:TOKRS_TEST_KEY_PASS'], {
    ...process.env,
    TOKRS_TEST_KEY_PASS: clientKeyPassphrase,
  });

  const other = makeCa(dir, 'other-ca');
  const stranger = makeLeaf(dir, 'stranger', other, clientExt);
  return {
    dir,
    caFile: ca.cert,
    brokerKeystoreFile,
    clientCertFile: client.cert,
    clientKeyFile,
    clientKeyPassphrase,
    otherCaFile: other.cert,
    strangerCertFile: stranger.cert,
    strangerKeyFile: stranger.key,
  };
}
