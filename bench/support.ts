/** What several benchmarks share: their options, the waimai stream and topology, and feeding a topic. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Kafka } from '../src/kafka/client.js';
import { feedLines } from '../src/kafka/feed.js';
import { parseTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/spec.js';

/** The shuffled waimai reviews (JSON Lines of {text, label}), read from ../shared, never copied. */
export const WAIMAI_DATA = new URL('../../shared/data/waimai_10k.shuffled_seed20240601.jsonl', import.meta.url);

/** An integer option `--name N` of at least `min`; a malformed value exits with status 2 and says so. */
export function intOption(name: string, fallback: number, min = 0): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return value;
}

/** The waimai reviews as JSON lines, empty lines dropped. */
export function waimaiLines(): string[] {
  return readFileSync(WAIMAI_DATA, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** topologies/waimai-sentiment.yaml with `changes` applied on top (and without model snapshots unless `snapshots`). */
export function waimaiTopology(changes: Record<string, unknown>, snapshots = true, name = 'waimai-sentiment.yaml (bench)'): Topology {
  const spec = parseYaml(readFileSync(new URL('../topologies/waimai-sentiment.yaml', import.meta.url), 'utf8')) as Record<string, unknown> & {
    outputs: Record<string, unknown>;
  };
  if (!snapshots) spec.outputs.snapshots = null;
  return parseTopology(stringifyYaml({ ...spec, ...changes }), name);
}

/** Produces `count` messages to `topic`, cycling through `lines` (JSON), in large batches; throws unless all were sent. */
export async function feedRepeated(kafka: Kafka, topic: string, lines: readonly string[], count: number): Promise<number> {
  const repeated = function* (): Generator<string> {
    for (let i = 0; i < count; i++) yield lines[i % lines.length]!;
  };
  const fed = await feedLines(kafka, repeated(), { topic, format: 'json', jsonInput: true, batchSize: 5_000 });
  if (fed.sent !== count) throw new Error(`fed ${fed.sent} of ${count} messages (${fed.skipped} skipped)`);
  return fed.sent;
}

/** CPU time of a process so far, ms: its main thread (tid = pid) and all its other threads together. */
export interface ProcessCpu {
  main: number;
  others: number;
}

/** From /proc (clock ticks of 10 ms): the whole process, and its main thread alone. Undefined where /proc is missing (not Linux). */
export function processCpu(pid: number): ProcessCpu | undefined {
  const msPerTick = 10; // USER_HZ is 100 on every Linux ABI Node runs on
  // utime + stime (fields 14 and 15), read after the command name, which is in parentheses and may itself
  // hold spaces or parentheses. /proc/<pid>/stat also counts the threads that have ended.
  const ticks = (path: string): number | undefined => {
    try {
      const stat = readFileSync(path, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined; // no /proc (not Linux), or the process is gone
    }
  };
  const all = ticks(`/proc/${pid}/stat`);
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  if (all === undefined || main === undefined) return undefined;
  return { main: main * msPerTick, others: (all - main) * msPerTick };
}

/** `later` minus `earlier`, thread group by thread group. */
export function cpuSince(earlier: ProcessCpu, later: ProcessCpu): ProcessCpu {
  return { main: later.main - earlier.main, others: later.others - earlier.others };
}
