/** `tokrs describe <topology>`: validates a topology and prints its steps, topics and settings. */
import type { Command } from 'commander';
import { describeTopology } from '../topology/describe.js';
import { loadTopology } from '../topology/load.js';

export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('validate a topology file and print its steps, topics and settings')
    .argument('<topology>', 'topology file (YAML)')
    .option('--json', 'print the whole validated topology, defaults included, as JSON', false)
    .action((file: string, opts: { json: boolean }) => {
      const topology = loadTopology(file);
      process.stdout.write(opts.json ? `${JSON.stringify(topology, null, 2)}\n` : describeTopology(topology));
    });
}
