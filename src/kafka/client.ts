/**
 * The project's only door to Kafka: every stage gets its clients from here, so that KafkaJS (no longer
 * actively maintained) can be swapped for a librdkafka-based client without touching the stages.
 */
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

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
  return new Kafka(config);
}

/** Broker list from a comma-separated string such as `KAFKA_BROKERS`. */
export function parseBrokers(value: string): string[] {
  return value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
}
