/** `tokrs kafka up|down|status`: a local single-node Kafka broker for development and the demo. */
import type { Command } from 'commander';
import { ensureBrokerJars } from '../kafka/broker-jars.js';
import { LocalBroker, isOurBroker, readState } from '../kafka/local-broker.js';
import { cacheDir, defaultBrokerDataDir } from '../kafka/paths.js';
import { portFlag } from './flags.js';


export function registerKafka(program: Command): void {
  const kafka = program.command('kafka').description('run a local single-node Kafka broker (KRaft) from its Maven jars');

  kafka
    .command('up')
    .description('start the local broker in the background and print its bootstrap address')
    .option('--port <n>', 'client port (default: a free port)', portFlag('--port', false))
    .option('--controller-port <n>', 'controller port (default: a free port)', portFlag('--controller-port', false))
    .option('--data <dir>', 'data folder', defaultBrokerDataDir())
    .action(async (opts: { port?: number; controllerPort?: number; data: string }) => {
      const existing = readState(opts.data);
      if (existing !== undefined && isOurBroker(existing)) {
        // Idempotent: a second `up` reports the running broker instead of starting another on the same data.
        process.stdout.write(`${existing.bootstrap}\n`);
        process.stderr.write(`tokrs: a broker is already running (pid ${existing.pid}) on ${existing.dataDir}\n`);
        return;
      }
      const started = Date.now();
      const broker = await LocalBroker.start({
        dataDir: opts.data,
        detached: true,
        ...(opts.port === undefined ? {} : { port: opts.port }),
        ...(opts.controllerPort === undefined ? {} : { controllerPort: opts.controllerPort }),
      });
      process.stderr.write(
        `tokrs: Kafka ${broker.state.kafkaVersion} started in ${Date.now() - started} ms (pid ${broker.pid}, data ${broker.state.dataDir})\n`,
      );
      process.stdout.write(`${broker.bootstrap}\n`);
    });

  kafka
    .command('jars')
    .description('fetch the broker jars through Maven into the cache (once) and print their folder')
    .action(() => {
      process.stdout.write(`${ensureBrokerJars(cacheDir())}\n`);
    });

  kafka
    .command('down')
    .description('stop the local broker started by `tokrs kafka up`')
    .option('--data <dir>', 'data folder', defaultBrokerDataDir())
    .option('--delete-data', 'also delete the data folder', false)
    .action(async (opts: { data: string; deleteData: boolean }) => {
      const broker = LocalBroker.attach(opts.data);
      if (broker === undefined) {
        process.stderr.write(`tokrs: no local broker is running on ${opts.data}\n`);
        return;
      }
      await broker.stop({ deleteData: opts.deleteData });
      process.stderr.write(`tokrs: stopped the broker (pid ${broker.pid})\n`);
    });

  kafka
    .command('status')
    .description('say whether the local broker runs, and where')
    .option('--data <dir>', 'data folder', defaultBrokerDataDir())
    .action((opts: { data: string }) => {
      const state = readState(opts.data);
      if (state === undefined) {
        process.stdout.write(`stopped (no broker state in ${opts.data})\n`);
        process.exitCode = 3;
      } else if (!isOurBroker(state)) {
        process.stdout.write(`stopped (stale state file: pid ${state.pid} is gone; \`tokrs kafka up\` will start afresh)\n`);
        process.exitCode = 3;
      } else {
        process.stdout.write(`running ${state.bootstrap} pid ${state.pid} since ${state.startedAt} data ${state.dataDir}\n`);
      }
    });
}
