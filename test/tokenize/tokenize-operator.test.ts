import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { TokrsError } from '../../src/errors.js';
import { createFeaturizer } from '../../src/features/featurizer.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { createTokenizeStats, tokenizeAndHash } from '../../src/tokenize/tokenize-operator.js';
import type { TextRecord } from '../../src/topology/record.js';

const record = (id: string, text: unknown): TextRecord => ({ id, text, timestamp: 0 }) as TextRecord;

async function run(records: TextRecord[], maxLength = 10_000) {
  const rejected: { input: unknown; error: TokrsError }[] = [];
  const stats = createTokenizeStats();
  const out = await lastValueFrom(
    from(records).pipe(
      tokenizeAndHash({
        tokenizer: createTokenizer({ maxLength }),
        featurizer: createFeaturizer({ bits: 20 }),
        reject: (input, error) => rejected.push({ input, error }),
        stats,
      }),
      toArray(),
    ),
  );
  return { out, rejected, stats };
}

test('adds tokens, tokenCount, truncated and features, and counts them', async () => {
  const { out, rejected, stats } = await run([record('a', '味道不错'), record('b', '送餐很快，味道不错')]);
  assert.equal(rejected.length, 0);
  assert.deepEqual(out[0].tokens, ['味道', '不错']);
  assert.equal(out[0].tokenCount, 2);
  assert.equal(out[0].truncated, false);
  assert.equal(out[0].id, 'a');
  assert.equal(out[0].features.dim, 2 ** 20);
  assert.equal(out[0].features.indices.length, 2);
  const norm = Math.hypot(...out[1].features.values);
  assert.ok(Math.abs(norm - 1) < 1e-6, 'L2-normalised by default');
  assert.deepEqual(stats, { messages: 2, tokens: 2 + out[1].tokenCount, truncated: 0, empty: 0, rejected: 0 });
});

test('every bad input has a defined result and nothing is thrown', async () => {
  const mb = '好'.repeat(1 << 20);
  const records = [
    record('empty', ''),
    record('blank', ' \t\n\u3000 '),
    record('surrogates', '好\ud800吃\udc00'),
    record('controls', '好吃\u0000\u0007\u001b[31m不贵'),
    record('huge', mb),
    record('number', 42),
    record('null', null),
    record('ok', '好吃'),
  ];
  const { out, rejected, stats } = await run(records, 10_000);
  const byId = new Map(out.map((r) => [r.id, r]));
  assert.deepEqual(byId.get('empty')?.tokens, []);
  assert.equal(byId.get('empty')?.features.indices.length, 0);
  assert.deepEqual(byId.get('blank')?.tokens, []);
  assert.deepEqual(byId.get('surrogates')?.tokens, ['好', '\ufffd', '吃', '\ufffd']);
  assert.deepEqual(byId.get('controls')?.tokens, ['好吃', '[', '31m', '不', '贵']);
  const huge = byId.get('huge');
  assert.equal(huge?.truncated, true);
  assert.ok((huge?.tokenCount ?? 0) > 0 && (huge?.tokenCount ?? 0) <= 10_000);
  assert.deepEqual(
    rejected.map((r) => [(r.input as TextRecord).id, r.error.code]),
    [
      ['number', 'TOKRS_ERR_TOKENIZE'],
      ['null', 'TOKRS_ERR_TOKENIZE'],
    ],
  );
  assert.match(rejected[0].error.message, /record number: text must be a string, got number/);
  assert.deepEqual(out.map((r) => r.id), ['empty', 'blank', 'surrogates', 'controls', 'huge', 'ok']);
  assert.equal(stats.truncated, 1);
  assert.equal(stats.empty, 2);
  assert.equal(stats.rejected, 2);
  assert.equal(stats.messages, 6);
});

test('a tokenizer failure is rejected, not thrown, and the stream goes on', async () => {
  const tokenizer = createTokenizer({});
  const failing: typeof tokenizer = {
    ...tokenizer,
    tokenizeHashed: (t, f) => (t === 'boom' ? (() => { throw new Error('native crash'); })() : tokenizer.tokenizeHashed(t, f)),
  };
  const rejected: TokrsError[] = [];
  const out = await lastValueFrom(
    from([record('1', 'boom'), record('2', '好吃')]).pipe(
      tokenizeAndHash({ tokenizer: failing, featurizer: createFeaturizer({}), reject: (_i, e) => rejected.push(e) }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((r) => r.id), ['2']);
  assert.equal(rejected[0].code, 'TOKRS_ERR_TOKENIZE');
  assert.match(rejected[0].message, /record 1: tokenize failed: native crash/);
});
