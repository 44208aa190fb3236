/**
 * One `tokrs run` of the waimai topology over N messages in a fresh topic on a local broker, for profiling
 * the main thread of a real run (bench/e2e.ts measures; this one is meant to run under --cpu-prof):
 *
 *   TOKRS_CACHE_DIR=/tmp/tokrs-cache node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx bench/run-profile.ts [--messages 100000] [--workers 1] [--no-snapshots]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ensureTopics, withAdmin } from '../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../src/kafka/client.js';
import { feedLines } from '../src/kafka/feed.js';
import { LocalBroker } from '../src/kafka/local-broker.js';
import { parseTopology } from '../src/topology/load.js';
import { startTopology } from '../src/topology/runner.js';

const DATA = new URL('../../shared/data/waimai_10k.shuffled_seed20240601.jsonl', import.meta.url);
const TOPOLOGY = new URL('../topologies/waimai-sentiment.yaml', import.meta.url);
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const MESSAGES = arg('messages', 100_000);
const WORKERS = arg('workers', 1);
const SNAPSHOTS = !process.argv.includes('--no-snapshots');

const lines = readFileSync(DATA, 'utf8').split('\n').filter((l) => l.trim() !== '');
const dataDir = mkdtempSync(join(tmpdir(), 'tokrs-bench-profile-'));
const broker = await LocalBroker.start({ dataDir });
try {
  const kafka = createKafka({ brokers: parseBrokers(broker.bootstrap), clientId: 'tokrs-bench-profile', level: 'nothing' });
  const topic = `bench-profile-${randomBytes(4).toString('hex')}`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const fed = await feedLines(kafka, (function* () { for (let i = 0; i < MESSAGES; i++) yield lines[i % lines.length]!; })(), { topic, format: 'json', jsonInput: true, batchSize: 5_000 });
  const spec = parseYaml(readFileSync(TOPOLOGY, 'utf8')) as Record<string, unknown> & { outputs: Record<string, unknown> };
  if (!SNAPSHOTS) spec.outputs.snapshots = null;
  const t = parseTopology(stringifyYaml({ ...spec, workers: WORKERS, source: { ...(spec.source as object), topics: [topic], group: `${topic}-g` } }), 'bench');
  const run = await startTopology(t, { kafka, idleExitMs: 1500 });
  let first = 0;
  let last = 0;
  const processed = (): number => run.state.labelled + Object.values(run.state.deadLetters).reduce((a, b) => a + b, 0);
  let firstN = 0;
  const poll = setInterval(() => {
    const n = processed();
    if (first === 0 && n > 0) { first = performance.now(); firstN = n; }
    if (last === 0 && n >= fed.sent) last = performance.now();
  }, 1);
  await run.finished;
  clearInterval(poll);
  console.log(`workers ${WORKERS}, snapshots ${SNAPSHOTS ? 'on' : 'off'}: ${Math.round((fed.sent - firstN) / ((last - first) / 1000)).toLocaleString('en-US')} msg/s`);
} finally {
  await broker.stop({ graceMs: 10_000, deleteData: true });
  rmSync(dataDir, { recursive: true, force: true });
}
