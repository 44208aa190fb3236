/**
 * The demo end to end, as a user runs it: `npm start` (here `tsx src/cli/main.ts demo`) in its own process
 * group, with no KAFKA_BROKERS, so it starts its own broker. Reports how long the first metrics line took,
 * checks the dashboard answers, then sends SIGINT to the group (what Ctrl-C in a terminal does) and checks
 * that the demo exits 0, says it stopped cleanly, and leaves no broker or other process behind.
 *
 *   npx tsx bench/demo.ts            # uses the cached corpus when there is one
 *   npx tsx bench/demo.ts --cold     # deletes the cached corpus first, so it is fetched from the npm registry
 *   npx tsx bench/demo.ts --run 30   # seconds to keep the demo running after the first metrics line
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../src/kafka/paths.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const cold = args.includes('--cold');
const runFor = Number(args[args.indexOf('--run') + 1] ?? 15) || 15;
const FIRST_METRICS_TIMEOUT_MS = 5 * 60_000;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (cold) rmSync(join(cacheDir(), 'corpus'), { recursive: true, force: true });
const env = { ...process.env };
delete env.KAFKA_BROKERS;
const started = Date.now();
const child = spawn(join(root, 'node_modules/.bin/tsx'), ['src/cli/main.ts', 'demo', '--port', '0'], {
  cwd: root,
  env,
  detached: true, // its own process group, so SIGINT reaches every process of it, as Ctrl-C does
  stdio: ['ignore', 'pipe', 'pipe'],
});
const pgid = child.pid!;
const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
  child.once('exit', (code, signal) => resolve({ code, signal })),
);

let firstMetricsMs: number | undefined;
let metricsLines = 0;
let lastMetrics = '';
let dashboardUrl: string | undefined;
let brokerPid: number | undefined;
const stderrLines: string[] = [];
createInterface({ input: child.stdout! }).on('line', (line) => {
  if (!line.startsWith('[')) return;
  metricsLines++;
  lastMetrics = line;
  firstMetricsMs ??= Date.now() - started;
});
createInterface({ input: child.stderr! }).on('line', (line) => {
  stderrLines.push(line);
  process.stderr.write(`  | ${line}\n`);
  dashboardUrl ??= /dashboard: (http:\S+)/.exec(line)?.[1];
  const pid = /local broker, pid (\d+)/.exec(line)?.[1];
  if (pid !== undefined) brokerPid = Number(pid);
});

const failures: string[] = [];
const deadline = Date.now() + FIRST_METRICS_TIMEOUT_MS;
const early = await Promise.race([
  exited,
  (async () => {
    while (firstMetricsMs === undefined && Date.now() < deadline) await sleep(100);
  })(),
]);
if (early !== undefined) {
  failures.push(`the demo exited before its first metrics line (${JSON.stringify(early)})`);
} else if (firstMetricsMs === undefined) {
  failures.push(`no metrics line within ${FIRST_METRICS_TIMEOUT_MS / 1000} s`);
} else {
  process.stdout.write(`first metrics line after ${(firstMetricsMs / 1000).toFixed(1)} s${cold ? ' (corpus fetched from the npm registry)' : ''}\n`);
  await sleep(runFor * 1000);
  if (dashboardUrl === undefined) failures.push('the demo did not print a dashboard address');
  else {
    const res = await fetch(dashboardUrl).catch((error: unknown) => ({ status: String(error) }));
    if (res.status !== 200) failures.push(`the dashboard at ${dashboardUrl} answered ${res.status}`);
  }
  process.stdout.write(`after ${runFor} s more: ${metricsLines} metrics lines; last: ${lastMetrics}\n`);
}

const interruptedAt = Date.now();
try {
  process.kill(-pgid, 'SIGINT');
} catch {
  // The group is already gone.
}
const exit = await Promise.race([exited, sleep(90_000).then(() => undefined)]);
if (exit === undefined) {
  failures.push('the demo did not exit within 90 s of SIGINT');
  process.kill(-pgid, 'SIGKILL');
} else {
  process.stdout.write(`exit after SIGINT: code ${exit.code}, ${((Date.now() - interruptedAt) / 1000).toFixed(1)} s\n`);
  if (exit.code !== 0) failures.push(`exit code ${exit.code} (signal ${exit.signal})`);
  if (!stderrLines.some((l) => l.includes('stopped cleanly'))) failures.push('no "stopped cleanly" line');
}
await sleep(500);
if (brokerPid === undefined) failures.push('the demo did not report its local broker pid');
else if (alive(brokerPid)) {
  failures.push(`the broker (pid ${brokerPid}) is still running`);
  process.kill(brokerPid, 'SIGKILL');
} else process.stdout.write(`broker pid ${brokerPid}: gone\n`);
if (alive(-pgid)) failures.push(`processes of the demo's group ${pgid} are still running`);

if (failures.length > 0) {
  process.stdout.write(`FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('ok: first metrics, dashboard up, clean stop on SIGINT, no broker left\n');
}
