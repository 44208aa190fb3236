/**
 * The topology pipeline alone, without Kafka: N raw messages of the waimai data through `topologyPipeline`
 * (decode, tokenize + hash, sample, prequential, outputs encoded as the runner encodes them), on the main
 * thread or on tokenizer workers. It isolates the main thread's own cost, for profiling and A/B runs:
 *
 *   npx tsx bench/pipeline.ts [--messages 100000] [--workers 0] [--no-snapshots]
 *   node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx bench/pipeline.ts --workers 2
 */
import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import type { RawMessage } from '../src/codec/decode-operator.js';
import { PipelineState, topologyPipeline } from '../src/topology/pipeline.js';
import { encodeOutput } from '../src/topology/runner.js';
import { intOption, waimaiLines, waimaiTopology } from './support.js';

const MESSAGES = intOption('messages', 100_000, 1);
const WORKERS = intOption('workers', 0);
const SNAPSHOTS = !process.argv.includes('--no-snapshots');

const t = waimaiTopology({ workers: WORKERS }, SNAPSHOTS);

const lines = waimaiLines();
const values = lines.map((l) => Buffer.from(l));
const messages: RawMessage[] = [];
for (let i = 0; i < MESSAGES; i++) {
  messages.push({ topic: 'in', partition: i % 3, offset: String(Math.floor(i / 3)), key: null, value: values[i % values.length]!, timestamp: 1_700_000_000_000 + i, headers: {} });
}

const state = new PipelineState();
const input$ = new Subject<RawMessage>();
let outputs = 0;
let outputBytes = 0;
let done = 0;
const started = performance.now();
let firstDone = 0;
const finished = new Promise<void>((resolve, reject) => {
  input$
    .pipe(topologyPipeline(t, { runId: 'bench', done: () => void (done++ === 0 && (firstDone = performance.now())) }, state))
    .subscribe({
      next(output) {
        const record = encodeOutput(t, output);
        if (record !== undefined) {
          outputs++;
          outputBytes += record.value.length;
        }
      },
      error: reject,
      complete: resolve,
    });
});
// Fed in slices with a macrotask between them, as the Kafka source does (worker replies need the loop).
const SLICE = 256;
for (let i = 0; i < MESSAGES; i += SLICE) {
  for (let j = i; j < Math.min(MESSAGES, i + SLICE); j++) input$.next(messages[j]!);
  if (WORKERS > 0) while (state.seen - done > 2000) await new Promise((r) => setImmediate(r));
  else await new Promise((r) => setImmediate(r));
}
input$.complete();
await finished;
const seconds = (performance.now() - started) / 1000;
console.log(
  `workers ${WORKERS}, snapshots ${SNAPSHOTS ? 'on' : 'off'}: ${MESSAGES} messages in ${seconds.toFixed(2)} s = ` +
    `${Math.round(MESSAGES / seconds).toLocaleString('en-US')} msg/s (first done after ${((firstDone - started) / 1000).toFixed(2)} s; ` +
    `${Math.round((MESSAGES - 1) / ((performance.now() - firstDone) / 1000)).toLocaleString('en-US')} msg/s from then on); ` +
    `${outputs} outputs, ${(outputBytes / 1e6).toFixed(1)} MB; snapshots ${state.snapshotVersion}`,
);
