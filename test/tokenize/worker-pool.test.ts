import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { concat, delay, from, lastValueFrom, of, Subject, take, toArray, type Observable } from 'rxjs';
import type { TokrsError } from '../../src/errors.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { createTokenizeStats, tokenizeAndHash } from '../../src/tokenize/tokenize-operator.js';
import { tokenizeOnWorkers } from '../../src/tokenize/worker-pool.js';
import type { FeaturedRecord, TextRecord } from '../../src/topology/record.js';
import { readReviews } from '../support/data.js';

const record = (id: string, text: unknown): TextRecord => ({ id, text, timestamp: 0, label: 'x' }) as TextRecord;
const TOKENIZE = { maxLength: 200 };
const FEATURES = { bigrams: true };

const plain = (r: FeaturedRecord) => ({ ...r, features: { indices: [...r.features.indices], values: [...r.features.values], dim: r.features.dim } });

async function runBoth(records: TextRecord[], workers: number, batchSize?: number) {
  const mainRejects: [string, string, string][] = [];
  const poolRejects: [string, string, string][] = [];
  const asTuple = (input: unknown, e: TokrsError): [string, string, string] => [(input as TextRecord).id, e.code, e.message];
  const mainStats = createTokenizeStats();
  const poolStats = createTokenizeStats();
  const expected = await lastValueFrom(
    from(records).pipe(
      tokenizeAndHash({
        tokenizer: createTokenizer(TOKENIZE),
        featurizer: createFeaturizer(FEATURES),
        reject: (i, e) => mainRejects.push(asTuple(i, e)),
        stats: mainStats,
      }),
      toArray(),
    ),
  );
  const actual = await lastValueFrom(
    from(records).pipe(
      tokenizeOnWorkers({
        tokenize: TOKENIZE,
        features: FEATURES,
        workers,
        batchSize,
        reject: (i, e) => poolRejects.push(asTuple(i, e)),
        stats: poolStats,
      }),
      toArray(),
    ),
  );
  return { expected, actual, mainRejects, poolRejects, mainStats, poolStats };
}

test('2 workers give tokenizeAndHash’s records, in order, on 3000 waimai texts (with bad records mixed in)', async () => {
  const records = readReviews().slice(0, 3000).map((r, i) => record(`r${i}`, r.text));
  records.splice(10, 0, record('number', 42), record('null', null));
  records.splice(1500, 0, record('long', '好'.repeat(1000)), record('empty', ''), record('object', { a: 1 }));
  const { expected, actual, mainRejects, poolRejects, mainStats, poolStats } = await runBoth(records, 2);
  assert.equal(actual.length, 3000 + 2);
  assert.deepEqual(actual.map((r) => r.id), expected.map((r) => r.id));
  assert.deepEqual(actual.map(plain), expected.map(plain));
  assert.deepEqual(poolRejects, mainRejects);
  assert.deepEqual(poolRejects.map(([id]) => id), ['number', 'null', 'object']);
  assert.deepEqual(poolStats, mainStats);
  assert.ok(poolStats.truncated >= 1);
});

test('each record from the pool owns its vector: no two share a buffer, and none holds more than its entries', async () => {
  // A reservoir keeps records for a long time; a vector that were a view into its batch's arrays would keep
  // the whole batch alive with it.
  const records = readReviews().slice(0, 600).map((r, i) => record(`r${i}`, r.text));
  const out = await lastValueFrom(
    from(records).pipe(tokenizeOnWorkers({ tokenize: TOKENIZE, features: FEATURES, workers: 1, reject: () => undefined, stats: createTokenizeStats() }), toArray()),
  );
  const buffers = new Set<ArrayBufferLike>();
  let long = 0;
  for (const r of out) {
    const { indices, values } = r.features;
    const k = indices.length;
    if (k > 16) long++;
    const own = indices.buffer === values.buffer ? [indices.buffer] : [indices.buffer, values.buffer];
    for (const b of own) {
      assert.ok(!buffers.has(b), `record ${r.id} shares a buffer with an earlier record`);
      buffers.add(b);
      assert.ok(b.byteLength <= 8 * Math.max(k, 1), `record ${r.id}: ${b.byteLength} bytes for ${k} entries`);
    }
  }
  assert.ok(long > 100, `long vectors (one buffer for both arrays) among the records: ${long}`);
});

test('keepTokens: false gives the same records without their tokens (what a topology uses)', async () => {
  const records = readReviews().slice(0, 500).map((r, i) => record(`r${i}`, r.text));
  const run = (keepTokens: boolean) =>
    lastValueFrom(
      from(records).pipe(
        tokenizeOnWorkers({ tokenize: TOKENIZE, features: FEATURES, workers: 2, keepTokens, reject: () => undefined, stats: createTokenizeStats() }),
        toArray(),
      ),
    );
  const [withTokens, without] = [await run(true), await run(false)];
  assert.ok(without.every((r) => !('tokens' in r)));
  assert.deepEqual(without.map(plain), withTokens.map(({ tokens: _tokens, ...rest }) => plain({ ...rest })));
  assert.ok(withTokens.every((r) => r.tokens?.length === r.tokenCount));
});

test('rejects keep their place among the records, with small batches over 3 workers', async () => {
  const texts: unknown[] = ['味道不错', 7, '送餐很快', undefined, '好吃', false, '', '太慢了', null];
  const records = texts.map((t, i) => record(`r${i}`, t));
  const order: string[] = [];
  const out = await lastValueFrom(
    from(records).pipe(
      tokenizeOnWorkers({
        tokenize: TOKENIZE,
        features: FEATURES,
        workers: 3,
        batchSize: 2,
        maxPendingBatches: 2,
        reject: (input, error) => order.push(`reject ${(input as TextRecord).id} ${error.code}`),
        stats: createTokenizeStats(),
      }),
      toArray(),
    ),
  ).then((rs) => rs.map((r) => r.id));
  // Rejects are handed over while the batch around them is emitted, so both sequences are in input order.
  assert.deepEqual(out, ['r0', 'r2', 'r4', 'r6', 'r7']);
  assert.deepEqual(order, ['reject r1 TOKRS_ERR_TOKENIZE', 'reject r3 TOKRS_ERR_TOKENIZE', 'reject r5 TOKRS_ERR_TOKENIZE', 'reject r8 TOKRS_ERR_TOKENIZE']);
});

// Were records held until a batch of 256 filled, nothing would come out and the test would time out.
test('a trickle (one record at a time, with pauses) comes out without waiting for a full batch', { timeout: 30_000 }, async () => {
  const trickle: Observable<TextRecord> = concat(
    ...['味道不错', '送餐很快', '太慢了'].map((t, i) => of(record(`t${i}`, t)).pipe(delay(i === 0 ? 0 : 30))),
  );
  const input = new Subject<TextRecord>();
  const seen: string[] = [];
  const done = lastValueFrom(
    input.pipe(
      tokenizeOnWorkers({ tokenize: TOKENIZE, features: FEATURES, workers: 2, reject: () => undefined, stats: createTokenizeStats() }),
      take(3),
      toArray(),
    ),
  );
  // The first record must come out while the input is still open: nothing waits for 256 records.
  const first = new Promise<void>((resolve) => {
    const sub = trickle.subscribe({
      next: (r) => {
        seen.push(`in ${r.id}`);
        input.next(r);
      },
    });
    void done.then(() => {
      sub.unsubscribe();
      resolve();
    });
  });
  const out = await done;
  await first;
  assert.deepEqual(out.map((r) => r.id), ['t0', 't1', 't2']);
  input.complete();
});

test('a bad config fails when the operator is built; a worker that cannot start errors the stream', async () => {
  assert.throws(() => tokenizeOnWorkers({ tokenize: { tokenizer: 'spacy' } as never, features: {}, workers: 1, reject: () => undefined, stats: createTokenizeStats() }), /tokenize\.tokenizer/);
  assert.throws(() => tokenizeOnWorkers({ tokenize: {}, features: {}, workers: 0, reject: () => undefined, stats: createTokenizeStats() }), /workers/);
  const failing = tokenizeOnWorkers({
    tokenize: { jieba: { engine: 'node-rs', userDict: '/nonexistent/user.dict' } },
    features: {},
    workers: 1,
    reject: () => undefined,
    stats: createTokenizeStats(),
  });
  await assert.rejects(lastValueFrom(from([record('a', '好')]).pipe(failing)), (e: TokrsError) => e.code === 'TOKRS_ERR_CONFIG' && /worker 0 could not start: .*userDict/.test(e.message));
});

test('a worker that crashes or exits errors the stream with a message that says so', async () => {
  for (const [mode, expected] of [
    ['crashing', /tokenize worker 0 crashed: boom in the worker; the tokenize stage stops/],
    ['exiting', /tokenize worker 0 exited unexpectedly with code 3/],
  ] as const) {
    const operator = tokenizeOnWorkers({
      tokenize: { tokenizer: 'chars' },
      features: {},
      workers: 1,
      reject: () => undefined,
      stats: createTokenizeStats(),
      entry: new URL(`./fixtures/${mode}-worker.ts`, import.meta.url),
    });
    await assert.rejects(lastValueFrom(from([record('a', '好')]).pipe(operator)), (e: TokrsError) => e.code === 'TOKRS_ERR_TOKENIZE' && expected.test(e.message), mode);
  }
});

test('workers are terminated on complete and on unsubscribe: a process using the pool exits by itself', () => {
  const script = fileURLToPath(new URL('./fixtures/pool-exits.ts', import.meta.url));
  for (const args of [['--import', 'tsx', script], [fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url)), script]]) {
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
    assert.match(out, /complete 3 records\nunsubscribed\n/);
  }
});
