/**
 * The tokenize worker pool alone (tokenizeOnWorkers, what `tokenize.workers: N` runs), without a learner
 * behind it: messages/s through the pool, and how much of the main thread it uses, for several batch sizes.
 *
 *   npx tsx bench/pool.ts [--workers 1] [--engine node-rs|nodejieba] [--passes 8]
 *
 * Each pass sends every waimai review through the pool (default features: 2^20 buckets, no bigrams,
 * keepTokens false as in a topology) and waits for the last record; the pool is started and its
 * dictionaries loaded before the clock, and serves every pass. Rate: best pass. Main thread: its active
 * time (event-loop utilisation) per message in the best pass, which is what the pool leaves for the
 * learner. Compare with bench/tokenize.ts's single-thread "tokenize+hash" row.
 */
import { Subject } from 'rxjs';
import { createTokenizeStats } from '../src/tokenize/tokenize-operator.js';
import { tokenizeOnWorkers } from '../src/tokenize/worker-pool.js';
import type { FeaturedRecord, TextRecord } from '../src/topology/record.js';
import { intOption, waimaiLines } from './support.js';

const WORKERS = intOption('workers', 1, 1);
const PASSES = intOption('passes', 8, 1);
const engineArg = process.argv.indexOf('--engine');
const ENGINE = (engineArg >= 0 ? process.argv[engineArg + 1] : 'node-rs') as 'node-rs' | 'nodejieba';
if (ENGINE !== 'node-rs' && ENGINE !== 'nodejieba') throw new Error(`--engine must be node-rs or nodejieba, got ${String(ENGINE)}`);

const rows = waimaiLines().map((l) => JSON.parse(l) as { text: string; label: string });
const record = (i: number): TextRecord => ({ id: String(i), text: rows[i].text, label: rows[i].label, timestamp: i });

async function measure(batchSize: number): Promise<{ perSecond: number; mainNsPerMessage: number }> {
  const input$ = new Subject<TextRecord>();
  let route: (r: FeaturedRecord) => void = () => undefined;
  const pool = input$
    .pipe(
      tokenizeOnWorkers({
        tokenize: { tokenizer: 'jieba', jieba: { engine: ENGINE } },
        features: {},
        workers: WORKERS,
        batchSize,
        keepTokens: false,
        reject: (_record, error) => {
          throw error;
        },
        stats: createTokenizeStats(),
      }),
    )
    .subscribe((r) => route(r));
  // Warm-up: a record to each worker, so every dictionary is loaded before the clock.
  await new Promise<void>((resolve) => {
    let back = 0;
    route = () => void (++back === 2 * WORKERS && resolve());
    for (let w = 0; w < 2 * WORKERS; w++) input$.next(record(w));
  });
  let best = { perSecond: 0, mainNsPerMessage: Infinity };
  for (let pass = 0; pass < PASSES; pass++) {
    const done = new Promise<number>((resolve) => {
      let seen = 0;
      route = () => void (++seen === rows.length && resolve(performance.now()));
    });
    const before = performance.eventLoopUtilization();
    const start = performance.now();
    for (let i = 0; i < rows.length; i++) input$.next(record(i));
    const end = await done;
    const perSecond = rows.length / ((end - start) / 1000);
    if (perSecond > best.perSecond) best = { perSecond, mainNsPerMessage: (performance.eventLoopUtilization(before).active * 1e6) / rows.length };
  }
  pool.unsubscribe();
  return best;
}

console.log(`tokenize worker pool alone: ${ENGINE}, ${WORKERS} worker${WORKERS > 1 ? 's' : ''}, ${rows.length} waimai reviews a pass, best of ${PASSES} passes, node ${process.version}`);
console.log(`${'batch size'.padEnd(12)}${'msg/s'.padStart(10)}${'main thread ns/msg'.padStart(22)}`);
for (const batchSize of [128, 256, 512, 1024]) {
  const r = await measure(batchSize);
  console.log(`${String(batchSize).padEnd(12)}${Math.round(r.perSecond).toLocaleString('en-US').padStart(10)}${Math.round(r.mainNsPerMessage).toLocaleString('en-US').padStart(22)}`);
}
