/**
 * The `tokrs` command. Each subcommand lives in its own file under src/cli/ and registers itself here.
 */
import { Command } from 'commander';
import { describeError, TokrsError } from '../errors.js';
import { registerDashboard } from './dashboard.js';
import { registerDemo } from './demo.js';
import { registerDescribe } from './describe.js';
import { registerFeed } from './feed.js';
import { registerKafka } from './kafka.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerSample } from './sample.js';
import { registerTail } from './tail.js';
import { registerTokenize } from './tokenize.js';

const program = new Command('tokrs')
  .description('Stream processing for text on Kafka: tokenize, hash, sample and learn online')
  .showHelpAfterError();

registerKafka(program);
registerSample(program);
registerTokenize(program);
registerRun(program);
registerReplay(program);
registerFeed(program);
registerTail(program);
registerDescribe(program);
registerDemo(program);
registerDashboard(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const code = error instanceof TokrsError ? `${error.code}: ` : '';
  process.stderr.write(`tokrs: ${code}${describeError(error)}\n`);
  process.exitCode = 1;
});
