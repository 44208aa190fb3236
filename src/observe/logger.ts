/**
 * Structured logs (pino, JSON lines on standard error) that carry the topology and step names. Level from
 * TOKRS_LOG_LEVEL (default info); tests and benchmarks pass a silent logger.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(bindings: Record<string, unknown> = {}, level = process.env.TOKRS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { ...bindings } }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
