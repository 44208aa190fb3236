/** `tokrs feed <topic> <file|->`: produces text events from JSON Lines or text lines, optionally at a rate. */
import { Option, type Command } from 'commander';
import { accessSync, constants, createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ensureTopics, withAdmin } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { addSecurityOptions, mergeSecurity, resolveKafkaSecurity, type SecurityFlags } from '../kafka/security.js';
import { feedLines } from '../kafka/feed.js';
import { configError } from '../errors.js';
import { resolveBrokers } from './brokers.js';
import { integerFlag, positiveFlag } from './flags.js';

/**
 * Lines of a file or standard input, read lazily: a readline interface created before its consumer starts
 * iterating drops the lines it reads in between (Node's documented caveat), e.g. while the producer connects.
 */
async function* readLines(file: string): AsyncGenerator<string> {
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  yield* createInterface({ input, crlfDelay: Infinity });
}

export function registerFeed(program: Command): void {
  addSecurityOptions(program.command('feed'))
    .description('produce text events into a topic from a JSON Lines or text file (or standard input)')
    .argument('<topic>', 'topic to produce to (created if missing)')
    .argument('<file>', 'file to read, or - for standard input')
    .option('--brokers <list>', 'Kafka brokers, comma-separated')
    .addOption(new Option('--format <format>', 'message format: json, avro (dev.tokrs.TextEvent) or text').choices(['json', 'avro', 'text']).default('json'))
    .option('--lines', 'input lines are plain texts, not JSON objects', false)
    .option('--text-field <path>', 'field holding the text in JSON input', 'text')
    .option('--label-field <path>', 'field holding the label in JSON input', 'label')
    .option('--id-field <path>', 'field holding the id in JSON input (also used as the message key)')
    .option('--timestamp-field <path>', 'field holding the event time in JSON input (epoch ms or ISO 8601), used as the message timestamp', 'timestamp')
    .option('--rate <n>', 'messages per second (default: as fast as possible)', positiveFlag('--rate'))
    .option('--limit <n>', 'stop after this many messages', integerFlag('--limit', 1))
    .option('--partitions <n>', 'partitions when the topic is created', integerFlag('--partitions', 1, 100_000), 3)
    .action(
      async (
        topic: string,
        file: string,
        opts: { brokers?: string; format: 'json' | 'avro' | 'text'; lines: boolean; textField: string; labelField: string; idField?: string; timestampField: string; rate?: number; limit?: number; partitions: number } & SecurityFlags,
      ) => {
        // Before the topic is created: a mistyped file name must not leave an empty topic behind.
        if (file !== '-') {
          try {
            accessSync(file, constants.R_OK);
          } catch (error) {
            throw configError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
          }
        }
        const kafka = createKafka({ brokers: resolveBrokers(opts.brokers), clientId: 'tokrs-feed', ...resolveKafkaSecurity(mergeSecurity(undefined, opts)) });
        await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: opts.partitions }]));
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        const started = Date.now();
        const result = await feedLines(kafka, readLines(file), {
          topic,
          format: opts.format,
          jsonInput: !opts.lines,
          textField: opts.textField,
          labelField: opts.labelField,
          timestampField: opts.timestampField,
          signal: abort.signal,
          ...(opts.idField === undefined ? {} : { idField: opts.idField }),
          ...(opts.rate === undefined ? {} : { rate: opts.rate }),
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        });
        process.stderr.write(
          `tokrs feed: ${result.sent} messages to ${topic} in ${((Date.now() - started) / 1000).toFixed(1)} s` +
            `${result.skipped > 0 ? `; ${result.skipped} lines skipped (not JSON, no text at --text-field, or a --timestamp-field that is not epoch ms or ISO 8601)` : ''}\n`,
        );
      },
    );
}
