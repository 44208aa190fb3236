/**
 * The project's only door to Kafka: every stage gets its clients from here, so that KafkaJS (no longer
 * actively maintained) can be swapped for a librdkafka-based client without touching the stages.
 */
import { Kafka, logLevel, type Admin, type AdminConfig, type Consumer, type ConsumerConfig, type KafkaConfig, type LogEntry, type Producer, type ProducerConfig, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { configError, ERROR_CODES, TokrsError } from '../errors.js';
import { registerCodecs } from './codecs.js';
import { probeTls } from './tls-probe.js';

export type { Kafka } from 'kafkajs';

export interface KafkaLogger {
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  debug(message: string, extra?: Record<string, unknown>): void;
}

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId?: string;
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
  /**
   * Where KafkaJS's own log lines go. By default nothing is logged: KafkaJS logs every retried request at
   * error level, and failures that matter surface as exceptions. TOKRS_KAFKA_LOG_LEVEL turns it on.
   */
  logger?: KafkaLogger;
  level?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  connectionTimeout?: number;
  requestTimeout?: number;
  retry?: KafkaConfig['retry'];
}

const LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

const stderrLogger: KafkaLogger = {
  error: (message, extra) => process.stderr.write(`kafka error: ${message} ${JSON.stringify(extra ?? {})}\n`),
  warn: (message, extra) => process.stderr.write(`kafka warn: ${message} ${JSON.stringify(extra ?? {})}\n`),
  info: () => undefined,
  debug: () => undefined,
};

function envLevel(): keyof typeof LEVELS {
  const value = process.env.TOKRS_KAFKA_LOG_LEVEL ?? 'nothing';
  return value in LEVELS ? (value as keyof typeof LEVELS) : 'nothing';
}

export function createKafka(options: KafkaClientOptions): Kafka {
  registerCodecs(); // snappy, lz4 and zstd, which KafkaJS leaves to the application
  const logger = options.logger ?? stderrLogger;
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: options.clientId ?? 'tokrs',
    logLevel: LEVELS[options.level ?? envLevel()],
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      const text = `[${entry.namespace}] ${message}`;
      if (entry.level === logLevel.ERROR) logger.error(text, extra);
      else if (entry.level === logLevel.WARN) logger.warn(text, extra);
      else if (entry.level === logLevel.INFO) logger.info(text, extra);
      else logger.debug(text, extra);
    },
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.sasl !== undefined) config.sasl = options.sasl;
  if (options.connectionTimeout !== undefined) config.connectionTimeout = options.connectionTimeout;
  if (options.requestTimeout !== undefined) config.requestTimeout = options.requestTimeout;
  if (options.retry !== undefined) config.retry = options.retry;
  if (options.ssl === undefined && options.sasl === undefined) return new Kafka(config);
  return new SecuredKafka(config, options);
}

/**
 * A client whose producers, consumers and admins, before connecting, check the TLS handshake once
 * (src/kafka/tls-probe.ts), and whose refused credentials are a TOKRS_ERR_KAFKA_AUTH: KafkaJS retries a
 * refused certificate as if it were a network error, and its SASL error does not say what to change.
 */
class SecuredKafka extends Kafka {
  private verified: Promise<void> | undefined;

  constructor(
    config: KafkaConfig,
    private readonly options: KafkaClientOptions,
  ) {
    super(config);
  }

  override producer(config?: ProducerConfig): Producer {
    return this.guard(super.producer(config));
  }

  override consumer(config: ConsumerConfig): Consumer {
    return this.guard(super.consumer(config));
  }

  override admin(config?: AdminConfig): Admin {
    return this.guard(super.admin(config));
  }

  private guard<C extends { connect(): Promise<void> }>(client: C): C {
    const connect = client.connect.bind(client);
    client.connect = async () => {
      await this.checkTls();
      try {
        await connect();
      } catch (error) {
        throw this.explainSasl(error) ?? error;
      }
    };
    return client;
  }

  /** Once per client while it succeeds; again after brokers were unreachable (they may be starting). */
  private checkTls(): Promise<void> {
    const ssl = this.options.ssl;
    if (ssl === undefined || ssl === false) return Promise.resolve();
    this.verified ??= (async () => {
      for (const broker of this.options.brokers) {
        if ((await probeTls(broker, ssl === true ? {} : ssl, this.options.connectionTimeout ?? 10_000)) === 'ok') return;
      }
      // None answered: not a certificate problem; KafkaJS's connect reports it with its usual retries.
      this.verified = undefined;
    })().catch((error: unknown) => {
      this.verified = undefined;
      throw error;
    });
    return this.verified;
  }

  private explainSasl(error: unknown): TokrsError | undefined {
    const sasl = this.options.sasl;
    if (sasl === undefined) return undefined;
    const e = error as { name?: unknown; cause?: { name?: unknown } } | undefined;
    if (e?.name !== 'KafkaJSSASLAuthenticationError' && e?.cause?.name !== 'KafkaJSSASLAuthenticationError') return undefined;
    const user = 'username' in sasl ? ` as ${sasl.username}` : '';
    return new TokrsError(
      ERROR_CODES.KAFKA_AUTH,
      `SASL ${sasl.mechanism.toUpperCase()} authentication${user} was refused (${(error as Error).message}); ` +
        'check the user name, the password (source.security.sasl, --sasl-username, --sasl-password-env/--sasl-password-file) and the mechanism the listener enables',
      { cause: error },
    );
  }
}

/**
 * host:port with a host name or IPv4 address. KafkaJS splits an address at its colons, so a bracketed IPv6
 * address ([::1]:9092) cannot connect (getaddrinfo ENOTFOUND "["): a name that resolves to it can.
 */
export const BROKER_ADDRESS = /^[A-Za-z0-9._-]+:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/;

/** Broker list from a comma-separated string such as `KAFKA_BROKERS`; an address that cannot connect is refused. */
export function parseBrokers(value: string): string[] {
  const brokers = value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  const bad = brokers.find((broker) => !BROKER_ADDRESS.test(broker));
  if (bad !== undefined) throw configError(`broker address ${JSON.stringify(bad)} is not host:port (a host name or IPv4 address, a port from 1 to 65535)`);
  return brokers;
}
