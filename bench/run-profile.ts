/**
 * One `tokrs run` of the waimai topology over N messages in a fresh topic on a local broker, for profiling
 * the main thread of a real run (bench/e2e.ts measures; this one is meant to run under --cpu-prof):
 *
 *   TOKRS_CACHE_DIR=/tmp/tokrs-cache node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx bench/run-profile.ts [--messages 100000] [--workers 1] [--no-snapshots]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureTopics, withAdmin } from '../src/kafka/admin.js';
import { createKafka, parseBrokers } from '../src/kafka/client.js';
import { LocalBroker } from '../src/kafka/local-broker.js';
import { startTopology } from '../src/topology/runner.js';
import { feedRepeated, intOption, waimaiLines, waimaiTopology } from './support.js';

const MESSAGES = intOption('messages', 100_000, 1);
const WORKERS = intOption('workers', 1);
const SNAPSHOTS = !process.argv.includes('--no-snapshots');

const lines = waimaiLines();
const dataDir = mkdtempSync(join(tmpdir(), 'tokrs-bench-profile-'));
const broker = await LocalBroker.start({ dataDir });
try {
  const kafka = createKafka({ brokers: parseBrokers(broker.bootstrap), clientId: 'tokrs-bench-profile', level: 'nothing' });
  const topic = `bench-profile-${randomBytes(4).toString('hex')}`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  const sent = await feedRepeated(kafka, topic, lines, MESSAGES);
  const base = waimaiTopology({}, SNAPSHOTS);
  const t = waimaiTopology({ workers: WORKERS, source: { ...base.source, topics: [topic], group: `${topic}-g` } }, SNAPSHOTS, 'bench');
  const run = await startTopology(t, { kafka, idleExitMs: 1500 });
  let first = 0;
  let last = 0;
  const processed = (): number => run.state.labelled + Object.values(run.state.deadLetters).reduce((a, b) => a + b, 0);
  let firstN = 0;
  const poll = setInterval(() => {
    const n = processed();
    if (first === 0 && n > 0) { first = performance.now(); firstN = n; }
    if (last === 0 && n >= sent) last = performance.now();
  }, 1);
  await run.finished;
  clearInterval(poll);
  console.log(`workers ${WORKERS}, snapshots ${SNAPSHOTS ? 'on' : 'off'}: ${Math.round((sent - firstN) / ((last - first) / 1000)).toLocaleString('en-US')} msg/s`);
} finally {
  await broker.stop({ graceMs: 10_000, deleteData: true });
  rmSync(dataDir, { recursive: true, force: true });
}
