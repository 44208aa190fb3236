/** What integration tests need from the test broker that test/run.ts started (or KAFKA_BROKERS names). */
import { randomBytes } from 'node:crypto';
import { createKafka, parseBrokers, type Kafka } from '../../src/kafka/client.js';

export function testBrokers(): string[] {
  const value = process.env.KAFKA_BROKERS ?? '';
  if (value === '') throw new Error('KAFKA_BROKERS is not set: run integration tests through `npm test` (test/run.ts)');
  return parseBrokers(value);
}

export function testKafka(clientId = 'tokrs-test'): Kafka {
  return createKafka({ brokers: testBrokers(), clientId, level: 'nothing' });
}

/** A topic name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One message as a test reads it back. */
export interface Consumed {
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp: number;
}

/**
 * Every message of a topic, read from the start by a throwaway group: waits until at least
 * `expectedAtLeast` arrived (or `timeoutMs` passed), then a moment more, so that a record beyond the
 * expected count would be seen too.
 */
export async function readTopic(kafka: Kafka, topic: string, expectedAtLeast: number, timeoutMs = 30_000): Promise<Consumed[]> {
  const out: Consumed[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) =>
      void out.push({ key: message.key, value: message.value ?? Buffer.alloc(0), headers: message.headers ?? {}, timestamp: Number(message.timestamp) }),
  });
  const deadline = Date.now() + timeoutMs;
  while (out.length < expectedAtLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return out;
}
