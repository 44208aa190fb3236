/**
 * `tokrs run` as child processes, for the tests that run several instances of one topology against the
 * broker and kill or pause some of them (kill-one, pause-one): starting one, waiting on its log, and
 * reading back what the instances committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import type { Kafka } from '../../src/kafka/client.js';
import { feedLines } from '../../src/kafka/feed.js';
import type { RestoredState } from '../../src/state/checkpoint.js';
import type { Topology } from '../../src/topology/spec.js';
import { readReviews } from './data.js';
import { testBrokers } from './kafka.js';
import { writeTopology } from './topology.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  instance: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The process's JSON log lines so far (pino on standard error). */
  logs: () => Record<string, unknown>[];
  output: () => string;
}

/** Starts `tokrs run file --instance instance --session-timeout sessionTimeoutMs` against the test broker. */
export function startRun(file: string, instance: string, sessionTimeoutMs: number): Run {
  let output = '';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'run', file, '--instance', instance, '--session-timeout', String(sessionTimeoutMs)],
    { cwd: root, env: { ...process.env, KAFKA_BROKERS: testBrokers().join(','), TOKRS_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logs = (): Record<string, unknown>[] =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{"level"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { instance, child, exited, logs, output: () => output };
}

export const until = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A process's partitions of `topic` in its latest assignment (undefined before its first one). */
export const lastAssignment = (run: Run, topic: string): number[] | undefined => {
  const assigned = run.logs().filter((l) => l.msg === 'partitions assigned');
  if (assigned.length === 0) return undefined;
  return [...((assigned.at(-1)!.assignment as Record<string, number[]>)[topic] ?? [])].sort((x, y) => x - y);
};

/** Whether a log line is an assignment of all `partitions` partitions of `topic`. */
export const assignedAll =
  (topic: string, partitions: number) =>
  (l: Record<string, unknown>): boolean =>
    l.msg === 'partitions assigned' && ((l.assignment as Record<string, number[]>)[topic] ?? []).length === partitions;

/**
 * What the topology counted, over the instances' latest committed checkpoints: the sum that must equal
 * every message once. Kept apart so that what it sums can change in one place.
 */
export function countedAcrossInstances(states: readonly RestoredState[]): { messages: number; labelled: number } {
  let messages = 0;
  let labelled = 0;
  for (const s of states) {
    messages += s.evaluator?.messages ?? 0;
    labelled += s.evaluator?.labelled ?? 0;
  }
  return { messages, labelled };
}

/** Aborts whatever transaction `transactionalId` left open, as a restart of its process would. */
export async function fence(kafka: Kafka, transactionalId: string): Promise<void> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await (await producer.transaction()).abort();
  } finally {
    await producer.disconnect();
  }
}

/** Two processes of one topology on a live feed (see `startTwoOnLiveFeed`). */
export interface TwoOnLiveFeed {
  readonly runs: Run[];
  /** Settles when the last message has been fed. */
  readonly live: Promise<unknown>;
  readonly feeding: () => boolean;
  readonly feedStarted: number;
  /** How long the live part of the feed takes. */
  readonly feedMs: number;
}

/**
 * Feeds `total` labelled waimai reviews to the topology's source topic (created with `partitions`): a
 * `backlog` first, then starts `instances` as `tokrs run` processes and feeds the rest live at `rate` a
 * second, so what the test does to a process lands while messages flow in.
 */
export async function startOnLiveFeed(
  kafka: Kafka,
  t: Topology,
  options: { instances: readonly string[]; total: number; backlog: number; rate: number; partitions: number; sessionTimeoutMs: number },
): Promise<TwoOnLiveFeed> {
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: options.partitions }]));
  const reviews = readReviews();
  const lines = Array.from({ length: options.total }, (_, i) => JSON.stringify({ ...reviews[i % reviews.length], id: `m${i}` }));
  const feed = { topic, format: 'json', jsonInput: true, idField: 'id' } as const;
  await feedLines(kafka, lines.slice(0, options.backlog), feed);
  const file = writeTopology(t);
  const runs = options.instances.map((instance) => startRun(file, instance, options.sessionTimeoutMs));
  let feeding = true;
  const feedStarted = Date.now();
  const live = feedLines(kafka, lines.slice(options.backlog), { ...feed, rate: options.rate }).finally(() => (feeding = false));
  return { runs, live, feeding: () => feeding, feedStarted, feedMs: ((options.total - options.backlog) / options.rate) * 1000 };
}

/** Waits until every run consumes an equal share of the `partitions` and has committed a checkpoint since. */
export async function untilEachHoldsItsShare(runs: readonly Run[], topic: string, partitions: number): Promise<void> {
  await until(
    () =>
      runs.every((run) => {
        const logs = run.logs();
        const assigned = logs.findLastIndex((l) => l.msg === 'partitions assigned');
        return lastAssignment(run, topic)?.length === partitions / runs.length && logs.slice(assigned).some((l) => l.msg === 'checkpoint committed');
      }),
    60_000,
    `each process to consume ${partitions / runs.length} partitions and commit a checkpoint`,
  );
}
