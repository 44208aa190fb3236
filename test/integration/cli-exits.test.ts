/**
 * Commands that end must end: `tokrs tail` of a topic that does not exist, and `tokrs run` of a topology
 * whose pipeline cannot be built here, each used to print their error and then hang, held open by a
 * connected consumer (tail) or by a consumer that joined after the run had failed (run).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testBrokers, uniqueName } from '../support/kafka.js';
import { freshTopology, writeTopology } from '../support/topology.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `tokrs ...args`; resolves with its exit code and output, or with code 'hung' after `limitMs` (then kills it). */
function tokrs(args: readonly string[], limitMs: number): Promise<{ code: number | null | 'hung'; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: testBrokers().join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', output });
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('tokrs tail of a topic that does not exist says so and exits 1', async () => {
  const topic = uniqueName('no-such-topic');
  const { code, output } = await tokrs(['tail', topic, '--max', '1'], 40_000);
  assert.equal(code, 1, output);
  assert.match(output, new RegExp(`TOKRS_ERR_CONFIG: topic ${topic} does not exist`));
});

test('tokrs run of a pipeline that cannot start (a missing user dictionary) exits 1 with the reason', async () => {
  const file = writeTopology(
    freshTopology('waimai-sentiment.yaml', (base) => ({ ...base, tokenize: { ...base.tokenize, jieba: { ...base.tokenize.jieba, userDict: '/nonexistent/user.dict' } } })),
  );
  const { code, output } = await tokrs(['run', file], 60_000);
  assert.equal(code, 1, output);
  assert.match(output, /TOKRS_ERR_CONFIG: .*user\.dict/);
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
});
