/**
 * End to end: messages/s of `tokrs run` (the waimai topology, outputs on) over N messages already in a
 * 3-partition topic, next to the ceilings it is made of: a bare KafkaJS consumer, kcat (librdkafka) and
 * bare nodejieba.cut on the same texts. Issue 6's goals: with one tokenizer thread ≥ 0.8 × the slower of
 * bare KafkaJS and bare nodejieba; with two tokenizer workers above bare single-thread nodejieba.
 *
 *   TOKRS_CACHE_DIR=/tmp/tokrs-cache npx tsx bench/e2e.ts [--messages 200000] [--idle-exit 1500] [--diagnose]
 *
 * --diagnose adds runs of the topology without model snapshots (workers 0, 1 and 2): a snapshot of the
 * waimai model is ~1.1 MB, encoded on the main thread and gzipped by the producer, every 5,000 messages;
 * and with one worker, runs whose outputs are compressed with lz4 or not at all instead of gzip.
 *
 * Each tokrs run also gets its CPU time per message over the same span, from /proc: its main thread, its
 * other threads (tokenizer workers, GC helpers, the libuv pool that gzips outputs) and the broker's JVM.
 * Their sum bounds any run on this machine to cores / sum, however the work is spread over threads; the
 * last line says what sum each goal needs.
 *
 * Starts its own broker (LocalBroker, temp data dir) unless KAFKA_BROKERS is set; feeding the topic is
 * not timed. Every consumer reads the same topic from the beginning with a fresh group. Each rate counts
 * from its first message to its last (tokrs: from the first processed message to the last, read from the
 * run's counters; bare KafkaJS: from its first fetch request, as one fetch can hold the whole topic), so
 * group joins, worker start-up (a nodejieba dictionary per worker) and the idle exit are left out; they
 * are shown separately as "start". The bare ceilings are measured before and after the tokrs
 * runs and the better of the two is used, which makes the ratios conservative on this shared machine.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ensureTopics, withAdmin } from '../src/kafka/admin.js';
import { createKafka, parseBrokers, type Kafka } from '../src/kafka/client.js';
import { LocalBroker } from '../src/kafka/local-broker.js';
import { parseTopology } from '../src/topology/load.js';
import { outputTopics, startTopology, type RunHandle } from '../src/topology/runner.js';
import type { Topology } from '../src/topology/spec.js';
import { cpuSince, feedRepeated, intOption, processCpu, waimaiLines, type ProcessCpu } from './support.js';

const require = createRequire(import.meta.url);
const TOPOLOGY = new URL('../topologies/waimai-sentiment.yaml', import.meta.url);
const PARTITIONS = 3;

const MESSAGES = intOption('messages', 200_000, 1);
const IDLE_EXIT_MS = intOption('idle-exit', 1_500, 1);
/** Adds runs without model snapshots, to show what publishing them costs. */
const DIAGNOSE = process.argv.includes('--diagnose');

interface Rate {
  messages: number;
  seconds: number;
  /** From asking to read until the first message (group join, connect, worker start-up). */
  startSeconds: number | null;
  /** CPU time spent over the same span, ms: tokrs's process (main thread, other threads) and the broker's. */
  cpu?: { tokrs: ProcessCpu; broker: number | undefined };
}
const perSecond = (r: Rate): number => r.messages / r.seconds;

// --- cleanup on every way out ------------------------------------------------------------------------

let broker: LocalBroker | undefined;
let dataDir: string | undefined;
let kcatChild: ChildProcess | undefined;
let running: RunHandle | undefined;
const createdTopics: string[] = [];
let kafkaForCleanup: Kafka | undefined;
let ownBroker = false;

async function cleanup(): Promise<void> {
  kcatChild?.kill('SIGTERM');
  if (running !== undefined) await running.stop().catch(() => undefined);
  if (ownBroker) {
    await broker?.stop({ graceMs: 10_000, deleteData: true });
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  } else if (kafkaForCleanup !== undefined && createdTopics.length > 0) {
    // On a broker we do not own, remove what the bench created (input and output topics).
    await withAdmin(kafkaForCleanup, (admin) => admin.deleteTopics({ topics: createdTopics })).catch(() => undefined);
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the broker`);
    void cleanup().finally(() => process.exit(130));
  });
}

// --- the data ----------------------------------------------------------------------------------------

const lines = waimaiLines();
const texts = lines.map((line) => (JSON.parse(line) as { text: string }).text);

// --- the measurements --------------------------------------------------------------------------------

interface CpuReading {
  tokrs: ProcessCpu | undefined;
  broker: number | undefined;
}

/** CPU time so far of this process (tokrs runs in it) and of the broker when the bench started it. */
function cpuReading(): CpuReading {
  const b = broker === undefined ? undefined : processCpu(broker.pid);
  return { tokrs: processCpu(process.pid), broker: b === undefined ? undefined : b.main + b.others };
}

/** A change to the topology for a diagnostic run. */
interface Diagnostic {
  snapshots?: boolean;
  compression?: 'none' | 'lz4';
}

/** tokrs run in process: the waimai topology with `workers` tokenizer threads, outputs on, fresh group. */
async function measureTokrs(kafka: Kafka, topic: string, workers: number, change: Diagnostic = {}): Promise<Rate> {
  const spec = parseYaml(readFileSync(TOPOLOGY, 'utf8')) as Record<string, unknown> & { outputs: Record<string, { topic?: string } | string | null> };
  const snapshots = change.snapshots ?? true;
  const prefix = `${topic}.w${workers}${snapshots ? '' : '-nosnap'}${change.compression === undefined ? '' : `-${change.compression}`}`;
  if (!snapshots) spec.outputs.snapshots = null;
  if (change.compression !== undefined) spec.outputs.compression = change.compression;
  for (const output of Object.values(spec.outputs)) {
    if (typeof output === 'object' && output !== null && typeof output.topic === 'string') output.topic = `${prefix}.${output.topic.split('.').pop()}`;
  }
  const t: Topology = parseTopology(
    stringifyYaml({
      ...spec,
      workers,
      source: { ...(spec.source as object), topics: [topic], group: `${prefix}-${randomBytes(3).toString('hex')}`, start: 'earliest' },
    }),
    `waimai-sentiment.yaml (bench: ${workers} workers)`,
  );
  createdTopics.push(...outputTopics(t).map((s) => s.topic));

  // Labelled messages give no per-message output (predictions are for unlabelled ones), so the run's own
  // counters are polled: timers get through between the source's batches and its yields every 256 messages.
  const asked = performance.now();
  const run = await startTopology(t, { kafka, idleExitMs: IDLE_EXIT_MS });
  running = run;
  const processed = (): number => run.state.labelled + Object.values(run.state.deadLetters).reduce((a, b) => a + b, 0);
  let first: { at: number; processed: number; cpu: CpuReading } | undefined;
  let last: { at: number; cpu: CpuReading } | undefined;
  const poll = setInterval(() => {
    const n = processed();
    if (first === undefined && n > 0) first = { at: performance.now(), processed: n, cpu: cpuReading() };
    if (last === undefined && n >= MESSAGES) last = { at: performance.now(), cpu: cpuReading() };
  }, 1);
  try {
    const summary = await run.finished;
    running = undefined;
    if (summary.seen !== MESSAGES || processed() !== MESSAGES || first === undefined || last === undefined) {
      throw new Error(`tokrs with ${workers} workers saw ${summary.seen} and processed ${processed()} of ${MESSAGES} messages`);
    }
    // Counted from the first observation, so the messages processed before it are not counted.
    const tokrsCpu = first.cpu.tokrs !== undefined && last.cpu.tokrs !== undefined ? cpuSince(first.cpu.tokrs, last.cpu.tokrs) : undefined;
    const brokerCpu = first.cpu.broker !== undefined && last.cpu.broker !== undefined ? last.cpu.broker - first.cpu.broker : undefined;
    return {
      messages: MESSAGES - first.processed,
      seconds: (last.at - first.at) / 1000,
      startSeconds: (first.at - asked) / 1000,
      ...(tokrsCpu === undefined ? {} : { cpu: { tokrs: tokrsCpu, broker: brokerCpu } }),
    };
  } finally {
    clearInterval(poll);
  }
}

/**
 * A bare KafkaJS consumer: eachBatch, counting messages, nothing else. Timed from its first fetch request:
 * a whole fetch can hold tens of thousands of messages, handed out in one go, so timing from the first
 * batch would leave the fetch itself out.
 */
async function measureKafkaJs(kafka: Kafka, topic: string): Promise<Rate> {
  const consumer = kafka.consumer({ groupId: `${topic}.bare-${randomBytes(3).toString('hex')}` });
  const asked = performance.now();
  let first: number | undefined;
  let count = 0;
  consumer.on(consumer.events.FETCH_START, () => void (first ??= performance.now()));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const end = await new Promise<number>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            count += batch.messages.length;
            if (count >= MESSAGES) resolve(performance.now());
          },
        })
        .catch(reject);
    });
    return { messages: count, seconds: (end - first!) / 1000, startSeconds: (first! - asked) / 1000 };
  } finally {
    await consumer.disconnect();
  }
}

/** kcat (librdkafka) from the beginning to the end of the topic, counting lines. */
async function measureKcat(bootstrap: string, topic: string): Promise<Rate> {
  return new Promise<Rate>((resolve, reject) => {
    const asked = performance.now();
    let first: number | undefined;
    let firstLines = 0;
    let last = 0;
    let count = 0;
    const child = spawn('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    kcatChild = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      const now = performance.now();
      let n = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
      if (first === undefined) {
        first = now;
        firstLines = n;
      }
      count += n;
      if (n > 0) last = now;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      kcatChild = undefined;
      if (code !== 0 || count !== MESSAGES || first === undefined) {
        reject(new Error(`kcat exited with ${code} after ${count} of ${MESSAGES} lines: ${stderr.trim()}`));
        return;
      }
      resolve({ messages: count - firstLines, seconds: (last - first) / 1000, startSeconds: (first - asked) / 1000 });
    });
  });
}

/** nodejieba.cut as the waimai topology calls it (mix mode, no HMM), single thread, over the same texts. */
function measureNodejieba(): Rate {
  const nodejieba = require('nodejieba') as typeof import('nodejieba');
  let sink = 0; // keeps the results alive so the work cannot be dropped
  for (let i = 0; i < 2000; i++) sink += nodejieba.cut(texts[i % texts.length]!, false).length;
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) sink += nodejieba.cut(texts[i % texts.length]!, false).length;
  const seconds = (performance.now() - start) / 1000;
  if (sink === 0) throw new Error('nodejieba produced no tokens');
  return { messages: MESSAGES, seconds, startSeconds: null };
}

// --- main --------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const hasKcat = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
  if (!hasKcat) console.error('kcat not found: its row is skipped. Install it with `apt-get install -y kcat` (Debian).');

  let bootstrap: string;
  const envBrokers = process.env.KAFKA_BROKERS ?? '';
  if (envBrokers !== '') {
    bootstrap = parseBrokers(envBrokers).join(',');
    console.log(`broker: ${bootstrap} (KAFKA_BROKERS)`);
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'tokrs-bench-e2e-'));
    ownBroker = true;
    const started = performance.now();
    broker = await LocalBroker.start({ dataDir });
    bootstrap = broker.bootstrap;
    console.log(`broker: local ${bootstrap}, started in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const kafka = createKafka({ brokers: parseBrokers(bootstrap), clientId: 'tokrs-bench-e2e', level: 'nothing' });
  kafkaForCleanup = kafka;

  const topic = `bench-e2e-${randomBytes(4).toString('hex')}`;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: PARTITIONS }]));
  createdTopics.push(topic);
  const fedAt = performance.now();
  await feedRepeated(kafka, topic, lines, MESSAGES);
  console.log(
    `topic ${topic}: ${PARTITIONS} partitions, ${MESSAGES} messages ({id,text,label} JSON, ${lines.length} reviews repeated), ` +
      `fed in ${((performance.now() - fedAt) / 1000).toFixed(1)} s (not timed)\n`,
  );

  const step = (what: string): void => void process.stdout.write(`  measuring ${what} …\n`);
  const bare = async (): Promise<{ kafkajs: Rate; kcat: Rate | undefined; jieba: Rate }> => {
    step('bare KafkaJS');
    const kafkajs = await measureKafkaJs(kafka, topic);
    let kcat: Rate | undefined;
    if (hasKcat) {
      step('kcat');
      kcat = await measureKcat(bootstrap, topic);
    }
    step('bare nodejieba');
    const jieba = measureNodejieba();
    return { kafkajs, kcat, jieba };
  };

  const before = await bare();
  const tokrs: Rate[] = [];
  for (const workers of [0, 1, 2]) {
    if (interrupted) return;
    step(`tokrs run, workers ${workers}`);
    tokrs.push(await measureTokrs(kafka, topic, workers));
  }
  const diagnostic: [string, Rate][] = [];
  if (DIAGNOSE) {
    const changes: [number, string, Diagnostic][] = [
      [0, 'no snapshots', { snapshots: false }],
      [1, 'no snapshots', { snapshots: false }],
      [2, 'no snapshots', { snapshots: false }],
      [1, 'outputs lz4', { compression: 'lz4' }],
      [1, 'outputs uncompressed', { compression: 'none' }],
    ];
    for (const [workers, what, change] of changes) {
      if (interrupted) return;
      step(`tokrs run, workers ${workers}, ${what}`);
      diagnostic.push([`  (workers ${workers}, ${what})`, await measureTokrs(kafka, topic, workers, change)]);
    }
  }
  const after = await bare();

  const best = (a: Rate, b: Rate): Rate => (perSecond(a) >= perSecond(b) ? a : b);
  const kafkajs = best(before.kafkajs, after.kafkajs);
  const jieba = best(before.jieba, after.jieba);
  const kcat = before.kcat !== undefined && after.kcat !== undefined ? best(before.kcat, after.kcat) : undefined;

  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(9);
  const secs = (x: number | null): string => (x === null ? '' : `${x.toFixed(2)} s`).padStart(8);
  const row = (name: string, r: Rate, passes?: [Rate, Rate]): string =>
    `${name.padEnd(34)}${fmt(perSecond(r))}  ${secs(r.seconds)}  ${secs(r.startSeconds)}` +
    (passes === undefined ? '' : `   (${passes.map((p) => Math.round(perSecond(p)).toLocaleString('en-US')).join(' / ')})`);
  console.log(`\n${MESSAGES} messages, ${PARTITIONS} partitions; msg/s from first to last message; start = until the first message`);
  console.log(`${'what'.padEnd(34)}${'msg/s'.padStart(9)}  ${'time'.padStart(8)}  ${'start'.padStart(8)}   (before / after tokrs)`);
  console.log(row('tokrs run, workers 0 (main thread)', tokrs[0]!));
  console.log(row('tokrs run, workers 1', tokrs[1]!));
  console.log(row('tokrs run, workers 2', tokrs[2]!));
  for (const [name, r] of diagnostic) console.log(row(name, r));
  console.log(row('bare KafkaJS consumer (eachBatch)', kafkajs, [before.kafkajs, after.kafkajs]));
  if (kcat !== undefined) console.log(row('kcat (librdkafka)', kcat, [before.kcat!, after.kcat!]));
  else console.log(`${'kcat (librdkafka)'.padEnd(34)}  not installed (apt-get install -y kcat)`);
  console.log(row('bare nodejieba.cut, 1 thread', jieba, [before.jieba, after.jieba]));

  const slower = Math.min(perSecond(kafkajs), perSecond(jieba));
  const slowerName = perSecond(kafkajs) <= perSecond(jieba) ? 'bare KafkaJS' : 'bare nodejieba';
  const goal = (name: string, ratio: number, target: string, met: boolean): void =>
    console.log(`${name.padEnd(58)}${ratio.toFixed(2).padStart(6)}  goal ${target.padEnd(6)} ${met ? 'met' : 'NOT met'}`);
  console.log(`\nratios (denominators: the better of the two passes; slower ceiling = ${slowerName})`);
  for (const workers of [0, 1]) {
    const ratio = perSecond(tokrs[workers]!) / slower;
    goal(`tokrs workers ${workers} (1 tokenizer thread) / min(KafkaJS, nodejieba)`, ratio, '≥ 0.8', ratio >= 0.8);
  }
  const ratio2 = perSecond(tokrs[2]!) / perSecond(jieba);
  goal('tokrs workers 2 / bare nodejieba (1 thread)', ratio2, '> 1', ratio2 > 1);

  // Whether the goals fit this machine at all: the CPU a message costs, summed over every thread of tokrs
  // and the broker, bounds any run to cores / cost however its work is spread over threads.
  const cores = availableParallelism();
  const us = (ms: number, r: Rate): string => ((1000 * ms) / r.messages).toFixed(1).padStart(7);
  console.log(`\nCPU µs per message over the same span (from /proc; ${cores} cores here; bound = ${cores} cores / total)`);
  console.log(`${'what'.padEnd(34)}${'main'.padStart(7)}${'others'.padStart(7)}${'broker'.padStart(7)}${'total'.padStart(7)}${'bound'.padStart(10)}`);
  const cpuRow = (name: string, r: Rate): void => {
    if (r.cpu === undefined) return console.log(`${name}: no /proc, no CPU figures`);
    const { main, others } = r.cpu.tokrs;
    const total = main + others + (r.cpu.broker ?? 0);
    const bound = (cores * 1000 * r.messages) / total;
    console.log(
      `${name.padEnd(34)}${us(main, r)}${us(others, r)}${r.cpu.broker === undefined ? '      ?' : us(r.cpu.broker, r)}${us(total, r)}${fmt(bound)}` +
        (r.cpu.broker === undefined ? '  (broker not ours: its CPU is not counted)' : ''),
    );
  };
  tokrs.forEach((r, workers) => cpuRow(`tokrs run, workers ${workers}`, r));
  for (const [name, r] of diagnostic) cpuRow(name, r);
  console.log(`${'bare nodejieba.cut, 1 thread'.padEnd(34)}${(1e6 / perSecond(jieba)).toFixed(1).padStart(7)}`);
  const goal1 = 0.8 * slower;
  const goal2 = perSecond(jieba);
  console.log(
    `budget on ${cores} cores: ${((cores * 1e6) / goal1).toFixed(1)} µs a message for goal 1 (${fmt(goal1).trim()} msg/s), ` +
      `${((cores * 1e6) / goal2).toFixed(1)} µs for goal 2 (above ${fmt(goal2).trim()} msg/s), all threads and the broker together`,
  );
}

main()
  .catch((error: unknown) => {
    if (!interrupted) {
      console.error(error);
      process.exitCode = 1;
    }
  })
  .finally(async () => {
    if (!interrupted) await cleanup();
  });
