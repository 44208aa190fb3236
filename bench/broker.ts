/**
 * Local broker start time: starts and stops the broker N times (default 5) on fresh data folders and
 * prints each time and the median. The jars must be cached already (run `tokrs kafka jars` once).
 *   npx tsx bench/broker.ts [N]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBroker } from '../src/kafka/local-broker.js';

const runs = Number(process.argv[2] ?? 5);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = Date.now();
  const broker = await LocalBroker.start({ dataDir: mkdtempSync(join(tmpdir(), 'tokrs-bench-broker-')) });
  times.push(Date.now() - started);
  await broker.stop({ deleteData: true });
  process.stdout.write(`start ${i + 1}: ${times.at(-1)} ms (until a client's describeCluster answers)\n`);
}
const sorted = [...times].sort((a, b) => a - b);
process.stdout.write(`median of ${runs}: ${sorted[Math.floor(runs / 2)]} ms\n`);
