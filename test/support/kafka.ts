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
