/**
 * A/B of `tokrs run` throughput: this checkout against another one (a worktree or an export of an older
 * commit), over the same topic on the same broker, in alternating runs, so that a shared, busy machine
 * slows both sides alike. Each run is a fresh process (its own heap, JIT and worker threads).
 *
 *   TOKRS_CACHE_DIR=/tmp/tokrs-cache npx tsx bench/e2e-ab.ts --base /path/to/other/checkout \
 *     [--messages 200000] [--rounds 3] [--workers 0,1,2]
 *
 * The other checkout needs its own node_modules (a symlink will do). Rates count from the first processed
 * message to the last, as bench/e2e.ts does; the load average is printed with every run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const THIS_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = new URL('../../shared/data/waimai_10k.shuffled_seed20240601.jsonl', import.meta.url);

interface ChildResult {
  messages: number;
  seconds: number;
}

/** Child mode: one run of the waimai topology of checkout `root` over `topic`, printed as JSON. */
async function child(root: string, brokers: string, topic: string, workers: number, total: number): Promise<void> {
  const load = (path: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(root, path)).href) as Promise<Record<string, unknown>>;
  const { parseTopology } = (await load('src/topology/load.ts')) as { parseTopology: (text: string, file: string) => unknown };
  const { startTopology } = (await load('src/topology/runner.ts')) as {
    startTopology: (t: unknown, o: unknown) => Promise<{ state: { labelled: number; deadLetters: Record<string, number> }; finished: Promise<unknown> }>;
  };
  const { createKafka, parseBrokers } = (await load('src/kafka/client.ts')) as {
    createKafka: (o: unknown) => unknown;
    parseBrokers: (s: string) => string[];
  };
  const spec = parseYaml(readFileSync(join(root, 'topologies/waimai-sentiment.yaml'), 'utf8')) as Record<string, unknown> & {
    outputs: Record<string, { topic?: string } | null>;
  };
  const prefix = `${topic}.${randomBytes(3).toString('hex')}`;
  for (const output of Object.values(spec.outputs)) {
    if (typeof output === 'object' && output !== null && typeof output.topic === 'string') output.topic = `${prefix}.${output.topic.split('.').pop()}`;
  }
  const t = parseTopology(
    stringifyYaml({ ...spec, workers, source: { ...(spec.source as object), topics: [topic], group: `${prefix}-g`, start: 'earliest' } }),
    'waimai-sentiment.yaml (bench)',
  );
  const kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'tokrs-bench-ab', level: 'nothing' });
  const run = await startTopology(t, { kafka, idleExitMs: 1500 });
  const processed = (): number => run.state.labelled + Object.values(run.state.deadLetters).reduce((a, b) => a + b, 0);
  let first: { at: number; n: number } | undefined;
  let last: number | undefined;
  const poll = setInterval(() => {
    const n = processed();
    if (first === undefined && n > 0) first = { at: performance.now(), n };
    if (last === undefined && n >= total) last = performance.now();
  }, 1);
  await run.finished;
  clearInterval(poll);
  if (first === undefined || last === undefined) throw new Error(`processed ${processed()} of ${total}`);
  const result: ChildResult = { messages: total - first.n, seconds: (last - first.at) / 1000 };
  console.log(JSON.stringify(result));
}

function runChild(root: string, brokers: string, topic: string, workers: number, total: number): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', root, brokers, topic, String(workers), String(total)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    p.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    p.once('error', reject);
    p.once('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`run of ${root} exited with ${code}: ${out}`));
      else resolvePromise(JSON.parse(line) as ChildResult);
    });
  });
}

async function main(): Promise<void> {
  const base = option('base');
  if (base === undefined) {
    console.error('usage: npx tsx bench/e2e-ab.ts --base /path/to/other/checkout [--messages N] [--rounds R] [--workers 0,1,2]');
    process.exit(2);
  }
  const messages = Number(option('messages') ?? 200_000);
  const rounds = Number(option('rounds') ?? 3);
  const workerCounts = (option('workers') ?? '0,1,2').split(',').map(Number);
  const { LocalBroker } = await import('../src/kafka/local-broker.js');
  const { createKafka, parseBrokers } = await import('../src/kafka/client.js');
  const { ensureTopics, withAdmin } = await import('../src/kafka/admin.js');
  const { feedLines } = await import('../src/kafka/feed.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'tokrs-bench-ab-'));
  const broker = await LocalBroker.start({ dataDir });
  try {
    const kafka = createKafka({ brokers: parseBrokers(broker.bootstrap), clientId: 'tokrs-bench-ab', level: 'nothing' });
    const topic = `bench-ab-${randomBytes(4).toString('hex')}`;
    await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
    const lines = readFileSync(DATA, 'utf8').split('\n').filter((l) => l.trim() !== '');
    await feedLines(kafka, (function* () {
      for (let i = 0; i < messages; i++) yield lines[i % lines.length]!;
    })(), { topic, format: 'json', jsonInput: true, batchSize: 5_000 });
    const sides = [
      ['base', resolve(base)],
      ['this', THIS_ROOT],
    ] as const;
    console.log(`${messages} messages, 3 partitions; base = ${resolve(base)}, this = ${THIS_ROOT}`);
    const rates = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      for (const workers of workerCounts) {
        // Alternate which side goes first, so neither always runs on the warmer or the busier moment.
        for (const [name, root] of round % 2 === 0 ? sides : [...sides].reverse()) {
          const r = await runChild(root, broker.bootstrap, topic, workers, messages);
          const rate = r.messages / r.seconds;
          const key = `${name} workers ${workers}`;
          rates.set(key, [...(rates.get(key) ?? []), rate]);
          const [l1, l5] = loadavg();
          console.log(`round ${round + 1}  ${key.padEnd(16)} ${Math.round(rate).toLocaleString('en-US').padStart(8)} msg/s   load ${l1!.toFixed(2)} ${l5!.toFixed(2)}`);
        }
      }
    }
    console.log('\nmedian msg/s');
    for (const workers of workerCounts) {
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const b = median(rates.get(`base workers ${workers}`)!);
      const t = median(rates.get(`this workers ${workers}`)!);
      console.log(`workers ${workers}: base ${Math.round(b).toLocaleString('en-US')}, this ${Math.round(t).toLocaleString('en-US')}, ×${(t / b).toFixed(2)}`);
    }
  } finally {
    await broker.stop({ graceMs: 10_000, deleteData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (args[0] === '--child') {
  const [, root, brokers, topic, workers, total] = args;
  child(root!, brokers!, topic!, Number(workers), Number(total)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
