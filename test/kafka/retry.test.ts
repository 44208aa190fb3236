import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { isGroupMovedOnError, isRetriableKafkaError, withRetry } from '../../src/kafka/retry.js';

/** KafkaJS's own protocol errors, as its client builds them from a broker's error code. */
const kafkajsErrors = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };

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

test('an offset commit refused by a rebalance is told apart from other failures, also when KafkaJS wraps it', () => {
  // KafkaJS's own errors for the broker's codes: ILLEGAL_GENERATION 22, UNKNOWN_MEMBER_ID 25, REBALANCE_IN_PROGRESS 27.
  for (const code of [22, 25, 27]) {
    const error = kafkajsErrors.createErrorFromCode(code);
    assert.equal(isGroupMovedOnError(error), true, String(code));
    assert.equal(isGroupMovedOnError(Object.assign(new Error('gave up'), { name: 'KafkaJSNonRetriableError', cause: error })), true, `${code} wrapped`);
  }
  // Not a rebalance: a fenced producer, an authorisation error, a broker gone.
  for (const code of [90, 29, 30]) assert.equal(isGroupMovedOnError(kafkajsErrors.createErrorFromCode(code)), false, String(code));
  assert.equal(isGroupMovedOnError(new Error('ECONNREFUSED')), false);
  assert.equal(isGroupMovedOnError(undefined), false);
});
