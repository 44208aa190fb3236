/**
 * One TLS handshake and one ApiVersions round trip with a broker, made with the client's own TLS options
 * before KafkaJS connects. KafkaJS turns every socket error into a retriable KafkaJSConnectionError, so a
 * certificate the broker or the client refuses is retried like a network blip: about 9 s of backoff for a
 * producer or admin, then tokrs's own retries on top. The probe tells the two apart and fails at once.
 *
 * The round trip matters: with TLS 1.3 the client considers the handshake done before the broker has
 * checked the client certificate, so a missing or unknown client certificate (mTLS) only shows as an alert
 * on the first read.
 */
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { ERROR_CODES, TokrsError } from '../errors.js';

/** OpenSSL verify results (X509_V_ERR_*) as Node names them: the client does not trust the broker. */
const UNTRUSTED_BROKER = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export type ProbeResult = 'ok' | 'unreachable';

/** ApiVersions v0 (key 18), correlation id 1: the one request every listener answers before SASL. */
function apiVersionsRequest(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const body = Buffer.alloc(10 + id.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(id.length, 8);
  id.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

function hostPort(broker: string): { host: string; port: number } {
  const colon = broker.lastIndexOf(':');
  return { host: broker.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(broker.slice(colon + 1)) };
}

/** What to fix, for an error that says the two sides do not accept each other; undefined for other errors. */
export function explainTlsFailure(error: NodeJS.ErrnoException, broker: string, ssl: ConnectionOptions): string | undefined {
  const code = error.code ?? '';
  const why = `${code}: ${error.message.split('\n')[0] ?? ''}`.trim();
  if (UNTRUSTED_BROKER.has(code)) {
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
      return `TLS: the certificate of broker ${broker} does not name the address connected to (${why}); connect with the name in its certificate, or set source.security.tls.servername`;
    }
    return (
      `TLS: the certificate of broker ${broker} is not trusted (${why}); ` +
      (ssl.ca === undefined
        ? 'it is not signed by a system CA: set source.security.tls.caFile (--ssl-ca, TOKRS_KAFKA_SSL_CA) to the CA that signed it'
        : 'it is not signed by the CA in source.security.tls.caFile (--ssl-ca, TOKRS_KAFKA_SSL_CA): use the CA that signed the brokers\' certificates')
    );
  }
  // An alert from the broker during or right after the handshake: it refused our certificate or its absence.
  if (/^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|HANDSHAKE_FAILURE|ACCESS_DENIED)/.test(code)) {
    return ssl.cert === undefined
      ? `TLS: broker ${broker} refused the connection (${why}); it asks for a client certificate (mTLS): set source.security.tls.certFile and keyFile (--ssl-cert, --ssl-key)`
      : `TLS: broker ${broker} refused the client certificate (${why}); it must be signed by a CA in the broker's truststore (ssl.truststore.location) and be valid for client authentication`;
  }
  return undefined;
}

/**
 * Connects to `broker` with the TLS options KafkaJS will use and sends ApiVersions. Resolves `ok` when the
 * broker answers, `unreachable` when it cannot be reached or closes the connection (left to KafkaJS and
 * its retries), and throws TOKRS_ERR_KAFKA_AUTH when either side refuses the other's certificate.
 */
export function probeTls(broker: string, ssl: ConnectionOptions, timeoutMs: number): Promise<ProbeResult> {
  const { host, port } = hostPort(broker);
  return new Promise((resolve, reject) => {
    let socket: TLSSocket;
    try {
      // As KafkaJS's own socket factory does: SNI with the host name unless it is an address.
      socket = connect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...ssl }, () => {
        socket.write(apiVersionsRequest('tokrs-tls-probe'));
      });
    } catch (error) {
      // A key that does not match its certificate, a wrong passphrase: nothing to do with the broker.
      reject(new TokrsError(ERROR_CODES.CONFIG, `TLS: the client certificate or key cannot be used: ${(error as Error).message}`, { cause: error }));
      return;
    }
    let received = 0;
    const settle = (outcome: ProbeResult | TokrsError): void => {
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof TokrsError) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => settle('unreachable'), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= 8) settle('ok');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const explained = explainTlsFailure(error, broker, ssl);
      settle(explained === undefined ? 'unreachable' : new TokrsError(ERROR_CODES.KAFKA_AUTH, explained, { cause: error }));
    });
    socket.on('close', () => settle('unreachable'));
  });
}
