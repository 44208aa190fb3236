import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetriableKafkaError, withRetry } from '../../src/kafka/retry.js';

const noSleep = { sleep: async () => undefined, random: () => 1 };

test('retries retriable errors with growing waits, then succeeds', async () => {
  const waits: number[] = [];
  let calls = 0;
  const result = await withRetry(
    async () => {
      calls++;
      if (calls < 4) throw Object.assign(new Error('broker down'), { name: 'KafkaJSConnectionError' });
      return 'ok';
    },
    { ...noSleep, initialMs: 100, maxMs: 500, onRetry: (_e, _a, wait) => waits.push(wait) },
  );
  assert.equal(result, 'ok');
  assert.deepEqual(waits, [100, 200, 400]);
});

test('a non-retriable error is thrown at once: no retry storm', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw Object.assign(new Error('fenced'), { name: 'KafkaJSProtocolError', type: 'PRODUCER_FENCED', retriable: false });
    }, noSleep),
    /fenced/,
  );
  assert.equal(calls, 1);
});

test('gives up after the configured retries', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw Object.assign(new Error('timeout'), { retriable: true });
    }, { ...noSleep, retries: 3 }),
  );
  assert.equal(calls, 4);
  assert.equal(isRetriableKafkaError(new Error('plain')), false);
});

test('what KafkaJS gave up on while a broker restarts is retried; a wrapped fatal error is not', () => {
  const coordinator = Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound', retriable: false });
  const wrapped = Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSNonRetriableError', retriable: false, cause: coordinator });
  assert.equal(isRetriableKafkaError(wrapped), true);
  const fenced = Object.assign(new Error('fenced'), { name: 'KafkaJSProtocolError', type: 'PRODUCER_FENCED', retriable: false });
  assert.equal(isRetriableKafkaError(Object.assign(new Error('x'), { name: 'KafkaJSNonRetriableError', cause: fenced })), false);
});
