/** The local broker manager's failure modes: each gives one clear message and leaves no process behind. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTokrsError } from '../../src/errors.js';
import { LocalBroker, freePort, stateFile } from '../../src/kafka/local-broker.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = (prefix: string): string => mkdtempSync(join(tmpdir(), prefix));

/** Pids of java processes whose command line mentions `dataDir`. */
function brokersOn(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('kafka.Kafka') && cmd.includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a port in use is refused with a message naming it, and nothing is left running', async () => {
  const port = await freePort();
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const dataDir = tmp('tokrs-port-');
  try {
    await assert.rejects(LocalBroker.start({ dataDir, port }), (error: unknown) => {
      assert.ok(isTokrsError(error, 'TOKRS_ERR_BROKER'));
      assert.match(error.message, new RegExp(`port ${port} .*already in use`));
      return true;
    });
  } finally {
    server.close();
  }
  assert.deepEqual(brokersOn(dataDir), []);
});

test('a second start on the same data folder is refused; a stale state file is replaced', async () => {
  const dataDir = tmp('tokrs-twice-');
  // A state file naming a process that is gone, as after a crash or a reboot.
  writeFileSync(stateFile(dataDir), JSON.stringify({ pid: 2 ** 22 + 7, propertiesFile: 'x', bootstrap: 'x', dataDir }));
  const broker = await LocalBroker.start({ dataDir });
  try {
    assert.equal(JSON.parse(readFileSync(stateFile(dataDir), 'utf8')).pid, broker.pid);
    await assert.rejects(LocalBroker.start({ dataDir }), /already running on data folder/);
    assert.deepEqual(brokersOn(dataDir), [broker.pid]);
  } finally {
    await broker.stop({ deleteData: true });
  }
  assert.deepEqual(brokersOn(dataDir), []);
});

test('a broker that exits during start is reported with its log, and nothing is left running', async () => {
  const dataDir = tmp('tokrs-exit-');
  await assert.rejects(
    LocalBroker.start({ dataDir, properties: { 'node.id': 'not-a-number' } }),
    (error: unknown) => isTokrsError(error, 'TOKRS_ERR_BROKER') && /exited during start|formatting/.test(error.message),
  );
  assert.deepEqual(brokersOn(dataDir), []);
});

/** Runs `tokrs kafka up` with a PATH holding only the named commands. */
function upWithOnly(commands: string[]): { status: number | null; stderr: string } {
  const bin = tmp('tokrs-path-');
  for (const command of commands) {
    const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, command));
  }
  const result = spawnSync(process.execPath, [join(root, 'bin/tokrs.js'), 'kafka', 'up', '--data', tmp('tokrs-nopath-')], {
    encoding: 'utf8',
    env: { ...process.env, PATH: bin, TOKRS_CACHE_DIR: tmp('tokrs-empty-cache-') },
  });
  return { status: result.status, stderr: result.stderr };
}

test('without Java, `kafka up` says so and points to the compose file', () => {
  const { status, stderr } = upWithOnly([]);
  assert.equal(status, 1);
  assert.match(stderr, /TOKRS_ERR_BROKER: Java is not installed.*docker\/compose\.yaml/s);
});

test('without Maven and no cached jars, `kafka up` says Maven is needed once', () => {
  const { status, stderr } = upWithOnly(['java']);
  assert.equal(status, 1);
  assert.match(stderr, /Maven \(mvn\) is not installed.*docker\/compose\.yaml/s);
});
