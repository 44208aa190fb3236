import { Worker } from 'node:worker_threads';
import { Observable, type OperatorFunction } from 'rxjs';
import { configError, describeError, ERROR_CODES, TokrsError, type ErrorCode } from '../errors.js';
import { featuresConfigSchema, type FeaturesConfigInput } from '../features/config.js';
import { copyVector, emptyVector, type SparseVector } from '../features/sparse-vector.js';
import { withTokenized, type FeaturedRecord, type TextRecord } from '../topology/record.js';
import type { Reject } from '../topology/reject.js';
import type { TokenizeConfigInput } from './config.js';
import { parseTokenizeConfig, textTypeError } from './create-tokenizer.js';
import { asStageError, type TokenizeStats } from './tokenize-operator.js';
import { TOKEN_SEPARATOR, type BatchReply, type BatchRequest, type WorkerInit, type WorkerReply } from './tokenize-worker.js';

const WORKER_ENTRY = new URL('./tokenize-worker.ts', import.meta.url).href;
/**
 * How a worker loads TypeScript. On Node 20, `new Worker(url.ts, { execArgv: ['--import', 'tsx'] })` fails
 * with "Unknown file extension .ts" (under `tsx`, under `node --import tsx`, and inherited execArgv alike):
 * the worker's entry is loaded before the hooks that tsx registers there apply to it. So the worker starts
 * with a line of plain JS that loads the entry through tsx's `tsImport`, which carries its own hooks. Both
 * URLs are resolved here, so neither the worker's cwd nor how the parent registered tsx matters.
 */
const bootstrap = (entry: string): string =>
  `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}));`;

export interface TokenizeOnWorkersOptions {
  /** The `tokenize` section, as plain JSON: each worker builds its own tokenizer from it. */
  readonly tokenize: TokenizeConfigInput;
  /** The `features` section, as plain JSON. */
  readonly features: FeaturesConfigInput;
  /** Worker threads, each with its own dictionary (nodejieba: ~1 s to load and ~100 MB each). */
  readonly workers: number;
  readonly reject: Reject;
  /** The pipeline's counters, updated on the main thread as records come out. */
  readonly stats: TokenizeStats;
  /**
   * Records per message to a worker (default 256). A postMessage that wakes an idle worker measured a fixed
   * ~0.45 ms of the main thread's time in a run on a busy 2-core machine (v8.serialize of the batch itself:
   * ~0.05 ms), so large batches matter more than the latency of filling them; a partial batch still goes
   * out as soon as a worker is idle. bench/pool.ts, one @node-rs/jieba worker, over three runs: 256, 512 and
   * 1024 within noise of each other (138–155k msg/s), 128 as fast or lower (119–141k).
   */
  readonly batchSize?: number;
  /**
   * Batches sent to workers and not yet answered (default 2 per worker, so a worker finds its next batch
   * waiting). Further batches wait on the main thread; the source's own in-flight bound limits those.
   */
  readonly maxPendingBatches?: number;
  /**
   * Whether records come out with their `tokens` (default true). The topology pipeline passes false: it needs
   * only `tokenCount` and `features`, and splitting every token of a batch back into strings on the main
   * thread cost more there than the worker saved it.
   */
  readonly keepTokens?: boolean;
  /** As in tokenizeAndHash: called for every record that gets features. */
  readonly onRecord?: (tokenCount: number, truncated: boolean) => void;
  /** The worker module (default tokenize-worker.ts); tests pass one that crashes. */
  readonly entry?: URL;
}

interface Batch {
  readonly seq: number;
  readonly records: TextRecord[];
  readonly texts: string[];
  /** Rejected before sending (text not a string), by position. */
  readonly early: Map<number, TokrsError>;
  reply?: BatchReply;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly index: number;
  pending: number;
}

/**
 * The tokenize + features stage on `workers` worker threads: the same records, results, rejects and stats
 * as `tokenizeAndHash`, in the same order.
 *
 * Records are batched; a partial batch goes out when a worker is idle, at the end of the current turn of
 * the event loop (setImmediate), so a trickle of messages is not held back waiting for a batch to fill,
 * while a burst (a Kafka fetch handed over in one turn) fills whole batches.
 * Answers are re-ordered by batch number. Workers start on subscribe and are terminated on complete, error
 * and unsubscribe; a worker that crashes or exits errors the stream.
 *
 * @example
 * from(records).pipe(tokenizeOnWorkers({ tokenize: {}, features: {}, workers: 2, reject, stats: createTokenizeStats() }))
 */
export function tokenizeOnWorkers(options: TokenizeOnWorkersOptions): OperatorFunction<TextRecord, FeaturedRecord> {
  const { workers, reject, stats, onRecord, batchSize = 256, maxPendingBatches = 2 * options.workers, keepTokens = true } = options;
  if (!Number.isInteger(workers) || workers < 1) throw configError(`tokenize.workers must be a positive integer, got ${workers}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw configError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(maxPendingBatches) || maxPendingBatches < 1) {
    throw configError(`maxPendingBatches must be a positive integer, got ${maxPendingBatches}`);
  }
  // Parsed here so a bad config fails when the topology is built, not later inside a thread.
  const tokenize = parseTokenizeConfig(options.tokenize);
  const parsedFeatures = featuresConfigSchema.safeParse(options.features ?? {});
  if (!parsedFeatures.success) {
    throw configError(`features: ${parsedFeatures.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const features = parsedFeatures.data;
  const dim = 2 ** features.bits;
  const init: WorkerInit = { role: 'tokrs-tokenize-worker', tokenize, features };
  const code = bootstrap(options.entry?.href ?? WORKER_ENTRY);

  return (source) =>
    new Observable<FeaturedRecord>((subscriber) => {
      let stopping = false;
      const fail = (message: string, code: ErrorCode = ERROR_CODES.TOKENIZE): void => {
        if (!stopping) subscriber.error(new TokrsError(code, message));
      };

      const pool: PoolWorker[] = [];
      for (let index = 0; index < workers; index++) {
        const worker = new Worker(code, { eval: true, workerData: init });
        const member: PoolWorker = { worker, index, pending: 0 };
        pool.push(member);
        worker.on('message', (reply: WorkerReply) => {
          if (reply.type === 'batch') onReply(member, reply);
          else if (reply.type === 'fatal') fail(`tokenize worker ${index} could not start: ${reply.message}`, reply.code);
        });
        worker.on('error', (error) => fail(`tokenize worker ${index} crashed: ${describeError(error)}; the tokenize stage stops`));
        worker.on('messageerror', (error) => fail(`tokenize worker ${index} sent a message that could not be read: ${describeError(error)}`));
        worker.on('exit', (code) => fail(`tokenize worker ${index} exited unexpectedly with code ${code}; the tokenize stage stops`));
      }

      let nextSeq = 0;
      const unanswered = new Map<number, Batch>(); // sent, by seq
      const order: Batch[] = []; // every batch not yet emitted, oldest first
      const ready: Batch[] = []; // closed batches not yet sent
      let filling: Batch | undefined;
      let inFlight = 0;
      let sourceDone = false;

      const idleWorker = (): PoolWorker | undefined => pool.find((w) => w.pending === 0);
      const leastBusy = (): PoolWorker => pool.reduce((a, b) => (b.pending < a.pending ? b : a));

      const send = (batch: Batch, to: PoolWorker): void => {
        to.pending++;
        inFlight++;
        unanswered.set(batch.seq, batch);
        to.worker.postMessage({ seq: batch.seq, texts: batch.texts, tokens: keepTokens } satisfies BatchRequest);
      };

      let flushScheduled = false;
      const pump = (): void => {
        while (ready.length > 0 && inFlight < maxPendingBatches) send(ready.shift() as Batch, leastBusy());
        if (filling !== undefined && ready.length === 0) {
          if (sourceDone && inFlight < maxPendingBatches) {
            send(filling, idleWorker() ?? leastBusy());
            filling = undefined;
          } else if (idleWorker() !== undefined && !flushScheduled) {
            // A partial batch goes to an idle worker, but only once the messages that arrive in this turn of
            // the event loop are in it: the Kafka source hands a fetched batch over in one chain of
            // microtasks, and sending at once would send batches of one (a postMessage per message).
            flushScheduled = true;
            setImmediate(flush);
          }
        }
      };
      const flush = (): void => {
        flushScheduled = false;
        if (stopping || filling === undefined || ready.length > 0) return;
        const idle = idleWorker();
        if (idle === undefined) return; // a reply will pump again
        send(filling, idle);
        filling = undefined;
      };

      const emit = (batch: Batch, reply: BatchReply): void => {
        const errors = new Map(reply.errors.map(([i, code, message]) => [i, new TokrsError(code, message)]));
        let total = 0;
        for (let i = 0; i < reply.counts.length; i++) if (reply.counts[i] > 0) total += reply.counts[i];
        const all = total === 0 || !keepTokens ? [] : reply.tokens.split(TOKEN_SEPARATOR);
        if (keepTokens && all.length !== total) {
          fail(`tokenize worker answered ${all.length} tokens for ${total}: a token contains U+0000, which normalisation should have removed`);
          return;
        }
        let cursor = 0;
        for (let i = 0; i < batch.records.length && !subscriber.closed; i++) {
          const record = batch.records[i];
          const count = reply.counts[i];
          const error = batch.early.get(i) ?? (count < 0 ? errors.get(i) : undefined);
          if (error !== undefined) {
            stats.rejected++;
            reject(record, asStageError(record, error));
            continue;
          }
          const truncated = reply.truncated[i] === 1;
          let out: FeaturedRecord;
          if (keepTokens) {
            out = withTokenized(record, { tokens: all.slice(cursor, cursor + count), tokenCount: count, truncated, features: unpack(reply, i) });
            cursor += count;
          } else out = withTokenized(record, { tokenCount: count, truncated, features: unpack(reply, i) });
          stats.messages++;
          stats.tokens += count;
          if (truncated) stats.truncated++;
          if (count === 0) stats.empty++;
          onRecord?.(count, truncated);
          subscriber.next(out);
        }
      };

      // Each record gets a vector of its own, not a view into the batch's arrays: a view would keep the whole
      // batch alive for as long as a reservoir keeps one of its records.
      const unpack = (reply: BatchReply, i: number): SparseVector => {
        const start = reply.offsets[i];
        const end = reply.offsets[i + 1];
        return start === end ? emptyVector(dim) : copyVector(reply.indices, reply.values, start, end, dim);
      };

      const onReply = (from: PoolWorker, reply: BatchReply): void => {
        const batch = unanswered.get(reply.seq);
        if (batch === undefined || stopping) return;
        unanswered.delete(reply.seq);
        from.pending--;
        inFlight--;
        batch.reply = reply;
        while (order.length > 0 && order[0].reply !== undefined && !subscriber.closed) {
          const head = order.shift() as Batch;
          emit(head, head.reply as BatchReply);
        }
        if (subscriber.closed) return;
        pump();
        if (sourceDone && order.length === 0) subscriber.complete();
      };

      const subscription = source.subscribe({
        next: (record) => {
          if (filling === undefined) {
            filling = { seq: nextSeq++, records: [], texts: [], early: new Map() };
            order.push(filling);
          }
          const text = (record as { text: unknown } | null)?.text;
          if (typeof text === 'string') filling.texts.push(text);
          else {
            filling.early.set(filling.records.length, textTypeError(text));
            filling.texts.push(''); // keeps positions aligned; its answer is ignored
          }
          filling.records.push(record);
          if (filling.records.length >= batchSize) {
            ready.push(filling);
            filling = undefined;
          }
          pump();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (filling !== undefined) {
            ready.push(filling);
            filling = undefined;
          }
          pump();
          if (order.length === 0) subscriber.complete();
        },
      });

      return () => {
        stopping = true;
        subscription.unsubscribe();
        for (const { worker } of pool) {
          worker.removeAllListeners('message');
          void worker.terminate().catch(() => undefined); // already gone: nothing to stop
        }
      };
    });
}
