/** Helpers shared by the tests against the SASL and TLS brokers. */
import type { Kafka, KafkaLogger } from '../../src/kafka/client.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { createKafka } from '../../src/kafka/client.js';
import { startTopology, type RunSummary } from '../../src/topology/runner.js';
import type { Topology } from '../../src/topology/spec.js';
import type { Logger } from 'pino';
import { eventually, uniqueName } from './kafka.js';

/** A KafkaJS logger that keeps every line (debug included) in `lines`, to check that no secret is ever printed. */
export function captureKafkaLogs(): { logger: KafkaLogger; lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string, e?: object): void => void lines.push(`${m} ${JSON.stringify(e ?? {})}`);
  return { logger: { error: keep, warn: keep, info: keep, debug: keep }, lines };
}

/**
 * Produces three messages with `kafka` and consumes them back with a new group; returns what was read
 * (fewer than three after 30 s when the connection does not work). The topic is created through
 * `plainBootstrap`, the PLAINTEXT listener, as an operator would: the secured client only reads and writes.
 */
export async function roundTrip(kafka: Kafka, plainBootstrap: string, prefix: string): Promise<string[]> {
  const topic = uniqueName(prefix);
  await withAdmin(createKafka({ brokers: [plainBootstrap], level: 'nothing' }), (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'one' }, { value: 'two' }, { value: '三' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: uniqueName(`${prefix}-g`) });
  const got: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  await eventually(() => (got.length >= 3 ? true : undefined), 30_000, `three messages (${prefix})`).catch(() => undefined);
  await consumer.disconnect();
  return got;
}

/**
 * Sends 30 labelled JSON messages to `inputTopic` with `kafka`, runs `topology` over them with a pino
 * logger at debug level, and returns the run's summary, the logger (for more components to log into) and
 * every line it wrote (to look for secrets in).
 */
export async function runThirtyMessages(kafka: Kafka, topology: Topology, inputTopic: string): Promise<{ summary: RunSummary; logLines: string[]; logger: Logger }> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: inputTopic, messages: Array.from({ length: 30 }, (_, i) => ({ value: JSON.stringify({ text: `text ${i}`, label: i % 2 === 0 ? 'a' : 'b' }) })) });
  await producer.disconnect();
  const logLines: string[] = [];
  const { default: pino } = await import('pino');
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const run = await startTopology(topology, { kafka, logger, idleExitMs: 2_000 });
  return { summary: await run.finished, logLines, logger };
}
