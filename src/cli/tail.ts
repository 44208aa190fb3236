/** `tokrs tail <topic>`: prints the Avro records of any tokrs schema in a topic as JSON lines. */
import type { Command } from 'commander';
import { decodeAny } from '../codec/avro.js';
import { createKafka } from '../kafka/client.js';
import { addSecurityOptions, mergeSecurity, resolveKafkaSecurity, type SecurityFlags } from '../kafka/security.js';
import { configError, describeError } from '../errors.js';
import { resolveBrokers } from './brokers.js';
import { integerFlag } from './flags.js';

/** JSON for records holding bytes (snapshot weights, dead-letter values) and longs. */
function replacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    const data = (value as { data: number[] }).data;
    return data.length <= 256 ? Buffer.from(data).toString('utf8') : `<${data.length} bytes>`;
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

export function registerTail(program: Command): void {
  addSecurityOptions(program.command('tail'))
    .description('decode the tokrs Avro records of a topic (metrics, snapshots, predictions, dead letters) to JSON lines')
    .argument('<topic>')
    .option('--brokers <list>', 'Kafka brokers, comma-separated')
    .option('--from-beginning', 'read the topic from its start', false)
    .option('--max <n>', 'stop after this many records', integerFlag('--max', 1))
    .action(async (topic: string, opts: { brokers?: string; fromBeginning: boolean; max?: number } & SecurityFlags) => {
      const kafka = createKafka({ brokers: resolveBrokers(opts.brokers), clientId: 'tokrs-tail', ...resolveKafkaSecurity(mergeSecurity(undefined, opts)) });
      // A throwaway group: tail must not move anyone's committed offsets.
      const consumer = kafka.consumer({ groupId: `tokrs-tail-${process.pid}-${Date.now()}` });
      await consumer.connect();
      let count = 0;
      // Whatever ends it (the last record, Ctrl-C, a topic that does not exist), the consumer disconnects:
      // a connected consumer would keep the process alive.
      try {
        await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning }).catch((error: unknown) => {
          throw (error as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION' ? configError(`topic ${topic} does not exist (tokrs tail creates no topic)`) : error;
        });
        await new Promise<void>((resolve, reject) => {
          process.once('SIGINT', resolve);
          consumer.run({
            eachMessage: async ({ partition, message }) => {
              if (opts.max !== undefined && count >= opts.max) return;
              count++;
              try {
                const { schema, record } = decodeAny(message.value ?? Buffer.alloc(0), message.headers);
                process.stdout.write(`${JSON.stringify({ schema: schema.name, partition, offset: message.offset, record }, replacer)}\n`);
              } catch (error) {
                process.stdout.write(`${JSON.stringify({ partition, offset: message.offset, error: describeError(error) })}\n`);
              }
              if (opts.max !== undefined && count >= opts.max) resolve();
            },
          }).catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
    });
}
