/**
 * Kafka authentication and encryption: SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS (CA file,
 * client certificate and key). The settings name where secrets are (an environment variable or a file),
 * never the secrets themselves, so a topology file, `tokrs describe` and logs can be shown to anyone.
 *
 *   source:
 *     security:
 *       sasl: { mechanism: scram-sha-256, username: alice, passwordEnv: KAFKA_PASSWORD }
 *       tls: { caFile: /etc/kafka/ca.pem }
 *
 * The CLI (`--sasl-mechanism`, `--sasl-username`, `--sasl-password-env`, `--sasl-password-file`, `--tls`,
 * `--ssl-ca`, `--ssl-cert`, `--ssl-key`, `--ssl-key-password-env`, `--ssl-key-password-file`) and the
 * environment (TOKRS_KAFKA_SASL_MECHANISM, TOKRS_KAFKA_SASL_USERNAME, TOKRS_KAFKA_SASL_PASSWORD,
 * TOKRS_KAFKA_SSL_CA, TOKRS_KAFKA_SSL_CERT, TOKRS_KAFKA_SSL_KEY, TOKRS_KAFKA_SSL_KEY_PASSWORD) override the
 * topology, in that order. `run`, `feed`, `tail` and `dashboard` (and `run --ui`) take them all.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import type { Command } from 'commander';
import type { SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { configError } from '../errors.js';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const INLINE = 'inline secrets are not accepted: name an environment variable (passwordEnv) or a file (passwordFile)';

export const saslSchema = z
  .object({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    /** Not a secret; `usernameEnv` when it comes from the environment too. */
    username: z.string().min(1).optional(),
    usernameEnv: envName.optional(),
    passwordEnv: envName.optional(),
    passwordFile: z.string().min(1).optional(),
    /** Refused with a message saying what to use instead (a typo-tolerant guard against pasted secrets). */
    password: z.unknown().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.password !== undefined) ctx.addIssue({ code: 'custom', message: INLINE, path: ['password'] });
    if (s.username === undefined && s.usernameEnv === undefined) ctx.addIssue({ code: 'custom', message: 'needs username or usernameEnv', path: ['username'] });
    if ((s.passwordEnv === undefined) === (s.passwordFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of passwordEnv and passwordFile', path: ['passwordEnv'] });
    }
  });

export const tlsSchema = z
  .object({
    /** PEM file of the CA that signed the brokers' certificates; the system CAs when absent. */
    caFile: z.string().min(1).optional(),
    /** PEM client certificate and key, for brokers that authenticate clients by certificate (mTLS). */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Passphrase of an encrypted key, from this environment variable or this file (not both). */
    keyPasswordEnv: envName.optional(),
    keyPasswordFile: z.string().min(1).optional(),
    /** Server name checked against the broker certificate when it differs from the broker address. */
    servername: z.string().min(1).optional(),
    /** Only for test clusters with self-signed certificates: skips verifying the broker certificate. */
    insecureSkipVerify: z.boolean().default(false),
    key: z.unknown().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.key !== undefined) ctx.addIssue({ code: 'custom', message: 'inline keys are not accepted: use keyFile', path: ['key'] });
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) ctx.addIssue({ code: 'custom', message: 'certFile and keyFile go together', path: ['certFile'] });
    if (t.keyPasswordEnv !== undefined && t.keyPasswordFile !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give at most one of keyPasswordEnv and keyPasswordFile', path: ['keyPasswordEnv'] });
    }
    if ((t.keyPasswordEnv !== undefined || t.keyPasswordFile !== undefined) && t.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a key passphrase needs keyFile', path: ['keyPasswordEnv'] });
    }
  });

export const kafkaSecuritySchema = z
  .object({
    sasl: saslSchema.optional(),
    /** TLS to the brokers; `tls: {}` for TLS with the system CAs. */
    tls: tlsSchema.optional(),
  })
  .strict();

export type KafkaSecurity = z.output<typeof kafkaSecuritySchema>;
export type KafkaSecurityInput = z.input<typeof kafkaSecuritySchema>;

/** The KafkaJS client options for `createKafka`, secrets read and held only here. */
export interface KafkaSecurityOptions {
  sasl?: SASLOptions;
  ssl?: ConnectionOptions | boolean;
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw configError(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function readEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw configError(`${what}: environment variable ${name} is not set`);
  return value;
}

/**
 * Reads the secrets `security` points at and builds KafkaJS's `sasl` and `ssl`. A missing variable or
 * unreadable file is a TOKRS_ERR_CONFIG naming the variable or file (never a value).
 *
 * @example
 * createKafka({ brokers, ...resolveKafkaSecurity({ sasl: { mechanism: 'scram-sha-256', username: 'alice', passwordEnv: 'PW' } }) })
 */
export function resolveKafkaSecurity(security: KafkaSecurityInput | undefined, env: NodeJS.ProcessEnv = process.env): KafkaSecurityOptions {
  if (security === undefined) return {};
  const parsed = kafkaSecuritySchema.safeParse(security);
  if (!parsed.success) {
    throw configError(parsed.error.issues.map((i) => `source.security.${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const { sasl, tls } = parsed.data;
  const out: KafkaSecurityOptions = {};
  if (sasl !== undefined) {
    const username = sasl.username ?? readEnv(env, sasl.usernameEnv!, 'source.security.sasl.usernameEnv');
    const password =
      sasl.passwordEnv !== undefined
        ? readEnv(env, sasl.passwordEnv, 'source.security.sasl.passwordEnv')
        : readSecretFile(sasl.passwordFile!, 'source.security.sasl.passwordFile');
    out.sasl = { mechanism: sasl.mechanism, username, password } as SASLOptions;
  }
  if (tls !== undefined) {
    const ssl: ConnectionOptions = { rejectUnauthorized: !tls.insecureSkipVerify };
    if (tls.caFile !== undefined) ssl.ca = [readCaFile(tls.caFile)];
    if (tls.certFile !== undefined) ssl.cert = readSecretFile(tls.certFile, 'source.security.tls.certFile');
    if (tls.keyFile !== undefined) ssl.key = readSecretFile(tls.keyFile, 'source.security.tls.keyFile');
    if (tls.keyPasswordEnv !== undefined) ssl.passphrase = readEnv(env, tls.keyPasswordEnv, 'source.security.tls.keyPasswordEnv');
    if (tls.keyPasswordFile !== undefined) ssl.passphrase = readSecretFile(tls.keyPasswordFile, 'source.security.tls.keyPasswordFile');
    if (tls.servername !== undefined) ssl.servername = tls.servername;
    checkClientCertificate(ssl, tls);
    out.ssl = ssl;
  }
  return out;
}

/** Node silently ignores a CA that is not PEM, and then trusts nothing: say so at load time instead. */
function readCaFile(path: string): string {
  const pem = readSecretFile(path, 'source.security.tls.caFile');
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no BEGIN CERTIFICATE line');
    new X509Certificate(pem);
  } catch (error) {
    throw configError(`source.security.tls.caFile: ${path} holds no PEM certificate (${(error as Error).message}); give the CA certificate in PEM form`);
  }
  return pem;
}

/**
 * Loads the client certificate and key the way the TLS connection will, so that a wrong passphrase or a key
 * of another certificate is a TOKRS_ERR_CONFIG at start, naming the files, rather than a failure per
 * connection attempt. OpenSSL's messages name neither the key nor the passphrase.
 */
function checkClientCertificate(ssl: ConnectionOptions, tls: NonNullable<KafkaSecurity['tls']>): void {
  if (ssl.key === undefined) return;
  try {
    createSecureContext({ cert: ssl.cert, key: ssl.key, ...(ssl.passphrase === undefined ? {} : { passphrase: ssl.passphrase }) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const files = `certFile ${tls.certFile ?? '?'}, keyFile ${tls.keyFile ?? '?'}`;
    const passphrase = tls.keyPasswordEnv !== undefined ? `$${tls.keyPasswordEnv}` : tls.keyPasswordFile !== undefined ? `file ${tls.keyPasswordFile}` : undefined;
    const why =
      code === 'ERR_OSSL_BAD_DECRYPT'
        ? passphrase === undefined
          ? 'the key is encrypted: give its passphrase with keyPasswordEnv or keyPasswordFile (--ssl-key-password-env, --ssl-key-password-file)'
          : `the key cannot be decrypted with the passphrase from ${passphrase}`
        : code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
          ? 'the key does not belong to the certificate'
          : `they cannot be loaded as PEM (${(error as Error).message})`;
    throw configError(`source.security.tls (${files}): ${why}`);
  }
}

/** What the CLI options give (commander's camelCase names). */
export interface SecurityFlags {
  saslMechanism?: string;
  saslUsername?: string;
  saslPasswordEnv?: string;
  saslPasswordFile?: string;
  tls?: boolean;
  sslCa?: string;
  sslCert?: string;
  sslKey?: string;
  sslKeyPasswordEnv?: string;
  sslKeyPasswordFile?: string;
}

/** Adds the security options to a command. */
export function addSecurityOptions(command: Command): Command {
  return command
    .option('--sasl-mechanism <m>', 'SASL mechanism: plain, scram-sha-256 or scram-sha-512 (or TOKRS_KAFKA_SASL_MECHANISM)')
    .option('--sasl-username <name>', 'SASL user name (or TOKRS_KAFKA_SASL_USERNAME)')
    .option('--sasl-password-env <VAR>', 'read the SASL password from this environment variable (default TOKRS_KAFKA_SASL_PASSWORD)')
    .option('--sasl-password-file <file>', 'read the SASL password from this file')
    .option('--tls', 'connect with TLS (implied by --ssl-ca/--ssl-cert)')
    .option('--ssl-ca <file>', 'PEM CA file for the broker certificates (or TOKRS_KAFKA_SSL_CA)')
    .option('--ssl-cert <file>', 'PEM client certificate (or TOKRS_KAFKA_SSL_CERT)')
    .option('--ssl-key <file>', 'PEM client key (or TOKRS_KAFKA_SSL_KEY)')
    .option('--ssl-key-password-env <VAR>', 'read the passphrase of an encrypted --ssl-key from this environment variable (TOKRS_KAFKA_SSL_KEY_PASSWORD is used when set)')
    .option('--ssl-key-password-file <file>', 'read the passphrase of an encrypted --ssl-key from this file');
}

/**
 * The security settings in force: the topology's, overridden by TOKRS_KAFKA_* variables, overridden by
 * CLI flags. Only names of variables and files are merged; secrets are read by `resolveKafkaSecurity`.
 */
export function mergeSecurity(fromTopology: KafkaSecurityInput | undefined, flags: SecurityFlags = {}, env: NodeJS.ProcessEnv = process.env): KafkaSecurityInput | undefined {
  const pick = (flag: string | undefined, variable: string): string | undefined => flag ?? (env[variable] === '' ? undefined : env[variable]);
  const mechanism = pick(flags.saslMechanism, 'TOKRS_KAFKA_SASL_MECHANISM');
  const username = pick(flags.saslUsername, 'TOKRS_KAFKA_SASL_USERNAME');
  let sasl = fromTopology?.sasl;
  if (mechanism !== undefined || username !== undefined || flags.saslPasswordEnv !== undefined || flags.saslPasswordFile !== undefined) {
    const base = sasl ?? ({} as Partial<NonNullable<KafkaSecurityInput['sasl']>>);
    const password =
      flags.saslPasswordFile !== undefined
        ? { passwordFile: flags.saslPasswordFile }
        : flags.saslPasswordEnv !== undefined
          ? { passwordEnv: flags.saslPasswordEnv }
          : base.passwordEnv !== undefined || base.passwordFile !== undefined
            ? { ...(base.passwordEnv === undefined ? {} : { passwordEnv: base.passwordEnv }), ...(base.passwordFile === undefined ? {} : { passwordFile: base.passwordFile }) }
            : { passwordEnv: 'TOKRS_KAFKA_SASL_PASSWORD' };
    const user = username ?? base.username;
    sasl = {
      mechanism: (mechanism ?? base.mechanism) as NonNullable<KafkaSecurityInput['sasl']>['mechanism'],
      ...(user === undefined ? (base.usernameEnv === undefined ? {} : { usernameEnv: base.usernameEnv }) : { username: user }),
      ...password,
    };
  }
  const ca = pick(flags.sslCa, 'TOKRS_KAFKA_SSL_CA');
  const cert = pick(flags.sslCert, 'TOKRS_KAFKA_SSL_CERT');
  const key = pick(flags.sslKey, 'TOKRS_KAFKA_SSL_KEY');
  let tls = fromTopology?.tls;
  if (flags.tls === true || ca !== undefined || cert !== undefined || key !== undefined) {
    tls = { ...tls, ...(ca === undefined ? {} : { caFile: ca }), ...(cert === undefined ? {} : { certFile: cert }), ...(key === undefined ? {} : { keyFile: key }) };
  }
  // The key's passphrase: a flag names where it is; else TOKRS_KAFKA_SSL_KEY_PASSWORD when it is set and the
  // topology names no other place.
  const keyPassword =
    flags.sslKeyPasswordFile !== undefined
      ? { keyPasswordFile: flags.sslKeyPasswordFile }
      : flags.sslKeyPasswordEnv !== undefined
        ? { keyPasswordEnv: flags.sslKeyPasswordEnv }
        : tls?.keyFile !== undefined && tls.keyPasswordEnv === undefined && tls.keyPasswordFile === undefined && (env.TOKRS_KAFKA_SSL_KEY_PASSWORD ?? '') !== ''
          ? { keyPasswordEnv: 'TOKRS_KAFKA_SSL_KEY_PASSWORD' }
          : undefined;
  if (keyPassword !== undefined) {
    const { keyPasswordEnv: _env, keyPasswordFile: _file, ...rest } = tls ?? {};
    tls = { ...rest, ...keyPassword };
  }
  if (sasl === undefined && tls === undefined) return undefined;
  return { ...(sasl === undefined ? {} : { sasl }), ...(tls === undefined ? {} : { tls }) };
}

/** One line for `tokrs describe` and logs: mechanisms, user and where secrets come from, never a secret. */
export function describeSecurity(security: KafkaSecurityInput | undefined): string {
  if (security === undefined || (security.sasl === undefined && security.tls === undefined)) return 'plaintext, no authentication';
  const parts: string[] = [];
  const s = security.sasl;
  if (s !== undefined) {
    const user = s.username ?? `$${s.usernameEnv ?? '?'}`;
    const from = s.passwordEnv !== undefined ? `password from $${s.passwordEnv}` : `password from file ${s.passwordFile ?? '?'}`;
    parts.push(`SASL ${s.mechanism.toUpperCase()} as ${user} (${from})`);
  }
  const t = security.tls;
  if (t !== undefined) {
    const keyFrom = t.keyPasswordEnv !== undefined ? ` (key passphrase from $${t.keyPasswordEnv})` : t.keyPasswordFile !== undefined ? ` (key passphrase from file ${t.keyPasswordFile})` : '';
    parts.push(
      `TLS${t.caFile === undefined ? ' (system CAs)' : ` (CA ${t.caFile})`}${t.certFile === undefined ? '' : `, client certificate ${t.certFile}${keyFrom}`}${t.insecureSkipVerify === true ? ', certificate NOT verified' : ''}`,
    );
  }
  return parts.join(', ');
}
