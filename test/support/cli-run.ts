/**
 * `tokrs run` as child processes, for the tests that run several instances of one topology against the
 * broker and kill or pause some of them (kill-one, pause-one): starting one, waiting on its log, and
 * reading back what the instances committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kafka } from '../../src/kafka/client.js';
import type { RestoredState } from '../../src/state/checkpoint.js';
import { testBrokers } from './kafka.js';

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
