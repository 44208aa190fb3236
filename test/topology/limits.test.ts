/**
 * Limits through the wired pipeline (no Kafka): model.maxClasses and tokenize.maxTokens are enforced,
 * counted, and never stop the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { RawMessage } from '../../src/codec/decode-operator.js';
import { ERROR_CODES } from '../../src/errors.js';
import { createTokenizer } from '../../src/tokenize/create-tokenizer.js';
import { parseTopology } from '../../src/topology/load.js';
import { PipelineState, topologyPipeline } from '../../src/topology/pipeline.js';

const topology = (extra: string): ReturnType<typeof parseTopology> =>
  parseTopology(
    `
name: limits
source: { topics: [in], format: json }
tokenize: { tokenizer: chars, chars: { n: 1 } }
features: { bits: 12 }
sample: { size: 50 }
train: { learnOn: both, replayEvery: 2, replayBatch: 16 }
evaluate: { reportEvery: 100, reportEveryMs: 0 }
outputs: { deadLetters: { topic: d }, metrics: { topic: m } }
${extra}
`,
    'limits.yaml',
  );

const message = (offset: number, value: unknown): RawMessage => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from(JSON.stringify(value)),
  timestamp: 1_700_000_000_000 + offset,
  headers: {},
});

test('model.maxClasses: a label beyond it is a TOKRS_ERR_LIMIT dead letter; later messages and replays go on', async () => {
  const t = topology('model: { maxClasses: 2 }');
  const labels = ['a', 'b', 'c', 'a', 'b', 'd', 'a', 'b'];
  const messages = Array.from({ length: 400 }, (_, i) => message(i, { text: `text ${labels[i % labels.length]} ${i % 7}`, label: labels[i % labels.length] }));
  const state = new PipelineState();
  const done: string[] = [];
  const out = await lastValueFrom(topologyPipeline(t, { runId: 'r', done: (p) => done.push(p.offset) }, state)(from(messages)).pipe(toArray()));
  const dead = out.filter((o) => o.kind === 'deadLetter').map((o) => (o.kind === 'deadLetter' ? o.record : undefined)!);
  const expected = messages.filter((_, i) => ['c', 'd'].includes(labels[i % labels.length]!)).length;
  assert.equal(dead.length, expected, 'exactly the c and d messages, none of the valid ones through a failed replay');
  assert.ok(dead.every((d) => d.errorCode === ERROR_CODES.LIMIT && /maxClasses/.test(d.errorMessage)));
  assert.equal(state.deadLetters[ERROR_CODES.LIMIT], expected);
  assert.equal(new Set(done).size, messages.length, 'every message is done');
  const metrics = out.filter((o) => o.kind === 'metrics');
  assert.ok(metrics.length > 0);
  const last = metrics.at(-1)!;
  assert.equal(last.kind === 'metrics' && last.record.counts.deadLetters?.[ERROR_CODES.LIMIT], expected);
  assert.equal(last.kind === 'metrics' && last.record.counts.classes, 2);
});

test('tokenize.maxTokens: extra tokens are dropped and counted, the message is still learned from', async () => {
  const tokenizer = createTokenizer({ tokenizer: 'chars', chars: { n: 2 }, maxTokens: 5 });
  const r = tokenizer.tokenize('abcdefgh');
  assert.deepEqual(r.tokens, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(r.truncated, true);
  assert.equal(r.tokensDropped, 15 - 5);
  assert.equal(createTokenizer({ tokenizer: 'chars', maxTokens: 5 }).tokenize('abc').tokensDropped, undefined);

  const t = topology('model: { maxClasses: 4 }\n');
  const limited = { ...t, tokenize: { ...t.tokenize, maxTokens: 3 } };
  const state = new PipelineState();
  const messages = Array.from({ length: 10 }, (_, i) => message(i, { text: 'abcdefghij', label: i % 2 === 0 ? 'x' : 'y' }));
  const out = await lastValueFrom(topologyPipeline(limited, { runId: 'r' }, state)(from(messages)).pipe(toArray()));
  assert.equal(out.filter((o) => o.kind === 'deadLetter').length, 0);
  assert.equal(state.tokenize.tokensDropped, 10 * 7);
  assert.equal(state.tokenize.truncated, 10);
  assert.equal(state.tokenize.tokens, 10 * 3);
  assert.equal(state.labelled, 10);
});
