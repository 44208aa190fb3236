/**
 * `tokrs demo` (the README's main command, `npm start`): starts a local broker unless KAFKA_BROKERS names
 * one, and shows a message going through it. Later stages make this the full demo topology.
 */
import type { Command } from 'commander';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTopics, withAdmin } from '../kafka/admin.js';
import { createKafka, parseBrokers } from '../kafka/client.js';
import { LocalBroker } from '../kafka/local-broker.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local broker (unless KAFKA_BROKERS is set) and round-trip a message through it')
    .action(async () => {
      let broker: LocalBroker | undefined;
      let brokers = parseBrokers(process.env.KAFKA_BROKERS ?? '');
      if (brokers.length === 0) {
        process.stderr.write('tokrs demo: starting a local Kafka broker (the first start fetches its jars)...\n');
        broker = await LocalBroker.start({ dataDir: mkdtempSync(join(tmpdir(), 'tokrs-demo-')) });
        brokers = [broker.bootstrap];
        process.stderr.write(`tokrs demo: broker at ${broker.bootstrap}\n`);
      }
      try {
        const kafka = createKafka({ brokers, clientId: 'tokrs-demo' });
        const topic = 'tokrs-demo-roundtrip';
        await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 1 }]));
        const producer = kafka.producer();
        await producer.connect();
        const text = `外卖送得很快，味道不错 (${new Date().toISOString()})`;
        await producer.send({ topic, messages: [{ value: text }] });
        await producer.disconnect();
        const consumer = kafka.consumer({ groupId: `tokrs-demo-${process.pid}` });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const received = await new Promise<string>((resolve) => {
          void consumer.run({
            eachMessage: async ({ message }) => {
              const value = message.value?.toString() ?? '';
              if (value === text) resolve(value);
            },
          });
        });
        await consumer.disconnect();
        process.stdout.write(`round trip through ${brokers.join(',')}: ${received}\n`);
      } finally {
        await broker?.stop({ deleteData: true });
      }
    });
}
