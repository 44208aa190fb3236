import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Observation } from '../../src/evaluate/metrics.js';
import { ObservationQueue } from '../../src/evaluate/observation-queue.js';
import { toColumns } from '../../src/evaluate/rolling.js';

const observation = fc.record(
  { yTrue: fc.constantFrom('a', 'b', 'c'), yPred: fc.constantFrom('a', 'b', 'd'), pTrue: fc.double({ min: 0, max: 1, noNaN: true }), weight: fc.double({ min: 0, max: 5, noNaN: true }) },
  { requiredKeys: ['yTrue', 'yPred'] },
).map((o): Observation => ({ ...o })); // a plain object, as the evaluator passes (fast-check's have no prototype)

test('ObservationQueue behaves as an array FIFO through growth and wrap-around, optional fields included', () => {
  // Random pushes and shifts against a plain array: the queue must give back every observation, with its
  // time, in order, exactly as pushed (a missing pTrue or weight stays missing).
  const op = fc.oneof(fc.record({ push: observation, time: fc.integer({ min: 0, max: 1e6 }) }), fc.constant('shift' as const));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const q = new ObservationQueue();
      const model: { o: Observation; time: number }[] = [];
      for (const step of ops) {
        if (step === 'shift') {
          if (model.length === 0) continue;
          const want = model.shift()!;
          assert.equal(q.peekTime(), want.time);
          assert.deepEqual(q.shift(), want.o);
        } else {
          q.push(step.push, step.time);
          model.push({ o: step.push, time: step.time });
        }
        assert.equal(q.length, model.length);
      }
      assert.deepEqual(q.toArray(), model.map((m) => m.o));
      assert.deepEqual(q.times(), model.map((m) => m.time));
      assert.deepEqual(q.toColumns(), toColumns(model.map((m) => m.o)), 'snapshot columns as before the queue existed');
    }),
    { seed: 4242, numRuns: 300 },
  );
});

test('ObservationQueue.shift on an empty queue is an error, not undefined fields', () => {
  assert.throws(() => new ObservationQueue().shift(), RangeError);
  assert.equal(new ObservationQueue().peekTime(), undefined);
});
