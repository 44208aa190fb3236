import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, map, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { SparseVector } from '../../src/features/sparse-vector.js';
import { prequential, type PrequentialOutput } from '../../src/evaluate/prequential.js';
import { LearnerHandle } from '../../src/learn/handle.js';
import { SoftmaxSgd } from '../../src/learn/softmax-sgd.js';
import { train } from '../../src/learn/train.js';
import { argmax } from '../../src/learn/classifier.js';
import { UniformReservoir } from '../../src/sample/uniform.js';
import { createRandom } from '../../src/sample/random.js';
import type { TokrsError } from '../../src/errors.js';
import type { Example, FeaturedRecord } from '../../src/topology/record.js';

const DIM = 32;
function record(i: number, label: string | undefined, words: number[], dim = DIM): FeaturedRecord {
  const idx = [...new Set(words)].sort((a, b) => a - b);
  const features: SparseVector = { indices: Int32Array.from(idx), values: new Float32Array(idx.length).fill(1), dim };
  return { id: `m${i}`, text: '', label, timestamp: i, tokens: [], tokenCount: idx.length, truncated: false, features };
}

/** Labelled stream: "pos" uses words 1-3, "neg" words 10-12. */
function labelled(n: number, offset = 0): FeaturedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const pos = (i * 7 + offset) % 3 !== 0;
    return record(i + offset, pos ? 'pos' : 'neg', pos ? [1 + (i % 3), 20] : [10 + (i % 3), 20]);
  });
}

const createModel = () => new SoftmaxSgd({ dim: DIM });
const collect = (records: FeaturedRecord[], options: Parameters<typeof prequential>[0]): PrequentialOutput[] => {
  const out: PrequentialOutput[] = [];
  from(records).pipe(prequential(options)).subscribe((o) => out.push(o));
  return out;
};
const reports = (out: PrequentialOutput[]) => out.flatMap((o) => (o.type === 'report' ? [o.report] : []));

test('predict first, then learn: the report equals a hand-run test-then-train loop', () => {
  const data = labelled(50);
  const out = collect(data, { createModel, train: { learnOn: 'stream' }, evaluate: { reportEvery: 20, reportEveryMs: 0 }, scheduler: new TestScheduler(assert.deepEqual) });
  const rs = reports(out);
  assert.deepEqual(rs.map((r) => [r.trigger, r.counts.messages]), [['count', 20], ['count', 40], ['complete', 50]]);
  // Reference: the same model, predicted then learned by hand.
  const m = createModel();
  let correct = 0;
  let scored = 0;
  for (const r of data) {
    if (m.labels.length > 0) {
      scored++;
      if (m.labels[argmax(m.predictProba(r.features))] === r.label) correct++;
    }
    m.learn(r.features, r.label!);
  }
  const last = rs[2];
  assert.equal(last.counts.scored, scored);
  assert.equal(last.counts.scored, 49, 'the first message is learned but cannot be scored');
  assert.equal(last.overall.accuracy, correct / scored);
  assert.equal(last.counts.learned, 50);
  assert.equal(last.sequence, 3);
  assert.deepEqual(last.labels.stream.map((l) => [l.label, l.count]).sort(), [['neg', 17], ['pos', 33]]);
});

test('time-based reports in virtual time (marbles), with throughput from the scheduler clock', () => {
  const scheduler = new TestScheduler(assert.deepEqual);
  scheduler.run(({ cold, expectObservable }) => {
    const data = labelled(4);
    // a at 0, b at 50, c at 150, d at 250, complete at 351.
    const source = cold<FeaturedRecord>('a 49ms b 99ms c 99ms d 100ms |', { a: data[0], b: data[1], c: data[2], d: data[3] });
    const out = source.pipe(
      prequential({ createModel, evaluate: { reportEvery: 0, reportEveryMs: 100 }, scheduler }),
      map((o) => (o.type === 'report' ? `${o.report.trigger}:${o.report.counts.messages}:${o.report.throughput.messagesInInterval}` : 'prediction')),
    );
    expectObservable(out).toBe('100ms x 99ms y 99ms z 50ms (w|)', { x: 'time:2:2', y: 'time:3:1', z: 'time:4:1', w: 'complete:4:0' });
  });
});

test('time reports, read out plainly', () => {
  const scheduler = new TestScheduler(assert.deepEqual);
  scheduler.run(({ cold, flush }) => {
    const data = labelled(4);
    const seen: string[] = [];
    cold<FeaturedRecord>('a 49ms b 99ms c 99ms d 100ms |', { a: data[0], b: data[1], c: data[2], d: data[3] })
      .pipe(prequential({ createModel, evaluate: { reportEvery: 0, reportEveryMs: 100, timeWindowMs: 100 }, scheduler }))
      .subscribe((o) => {
        if (o.type === 'report') seen.push(`${scheduler.now()} ${o.report.trigger} n=${o.report.counts.messages} i=${o.report.throughput.messagesInInterval} rate=${o.report.throughput.messagesPerSecond} tw=${o.report.timeWindow?.count}`);
      });
    flush();
    assert.deepEqual(seen, [
      '100 time n=2 i=2 rate=20 tw=1',
      '200 time n=3 i=1 rate=10 tw=1',
      '300 time n=4 i=1 rate=10 tw=1',
      '351 complete n=4 i=0 rate=0 tw=0',
    ]);
  });
});

test('unlabelled messages get a prediction with label and probabilities; bad messages go to reject', () => {
  const rejected: [unknown, TokrsError][] = [];
  const data = [
    ...labelled(30),
    record(100, undefined, [1, 2]),
    record(101, undefined, [10, 11]),
    record(102, 'pos', [1], 64), // wrong hash size
    { ...record(103, 'pos', [1]), label: 7 as unknown as string }, // label not a string
    { ...record(104, undefined, [1]), features: { indices: Int32Array.of(1), values: Float32Array.of(Number.NaN), dim: DIM } },
    record(105, undefined, [3]),
  ];
  const out = collect(data, { createModel, evaluate: { reportEvery: 0, reportEveryMs: 0 }, reject: (input, e) => rejected.push([input, e]) });
  const preds = out.flatMap((o) => (o.type === 'prediction' ? [o] : []));
  assert.deepEqual(preds.map((p) => [p.record.id, p.prediction.label]), [['m100', 'pos'], ['m101', 'neg'], ['m105', 'pos']]);
  const p = preds[0].prediction.probabilities;
  assert.deepEqual(Object.keys(p).sort(), ['neg', 'pos']);
  assert.ok(Math.abs(p.pos + p.neg - 1) < 1e-9 && p.pos > 0.5);
  assert.deepEqual(rejected.map(([, e]) => e.code), ['TOKRS_ERR_FEATURES', 'TOKRS_ERR_LEARN', 'TOKRS_ERR_FEATURES']);
  const last = reports(out).at(-1)!;
  assert.equal(last.counts.rejected, 3);
  assert.equal(last.counts.messages, 36);
  assert.equal(last.counts.labelled, 31);
  assert.equal(last.counts.unlabelled, 5);
});

test('learnOn both replays mini-batches from the real reservoir; reservoir labels are reported', () => {
  const reservoir = new UniformReservoir<Example>(10, createRandom(1));
  const data = labelled(40);
  const source = from(data).pipe(tap((r) => reservoir.offer({ features: r.features, label: r.label!, tokenCount: r.tokenCount, timestamp: r.timestamp })));
  const out: PrequentialOutput[] = [];
  source
    .pipe(prequential({ createModel, train: { learnOn: 'both', replayEvery: 5, replayBatch: 3 }, evaluate: { reportEvery: 0, reportEveryMs: 0 }, reservoir: () => reservoir }))
    .subscribe((o) => out.push(o));
  const last = reports(out).at(-1)!;
  assert.equal(last.counts.replays, 8);
  assert.equal(last.counts.replayed, 24);
  assert.equal(last.counts.learned, 40 + 24);
  assert.equal(last.labels.reservoirSize, 10);
  assert.equal(last.labels.reservoirSeen, 40);
  assert.equal(last.labels.reservoir.reduce((s, l) => s + l.count, 0), 10);
});

test('learnOn reservoir learns only from replays; train operator passes records on and exposes the model', () => {
  const reservoir = new UniformReservoir<Example>(8, createRandom(2));
  const handle = new LearnerHandle();
  const data = labelled(20);
  const passed: FeaturedRecord[] = [];
  const sub = from(data)
    .pipe(
      tap((r) => reservoir.offer({ features: r.features, label: r.label!, tokenCount: r.tokenCount, timestamp: r.timestamp })),
      train({ createModel, train: { learnOn: 'reservoir', replayEvery: 4, replayBatch: 2 }, reservoir: () => reservoir, handle }),
    )
    .subscribe((r) => passed.push(r));
  assert.equal(passed.length, 20);
  // The source is synchronous, so the subscription has finished and detached its state.
  assert.equal(handle.model, undefined);
  sub.unsubscribe();
});

test('state lives in the subscription: the handle sees the live model, two subscriptions never share one', () => {
  const scheduler = new TestScheduler(assert.deepEqual);
  scheduler.run(({ cold, flush }) => {
    const data = labelled(6);
    const handle = new LearnerHandle();
    const op = prequential({ createModel, evaluate: { reportEveryMs: 0, reportEvery: 0 }, handle, scheduler });
    const src = cold<FeaturedRecord>('abcdef 10ms |', { a: data[0], b: data[1], c: data[2], d: data[3], e: data[4], f: data[5] });
    const first = src.pipe(op).subscribe();
    scheduler.schedule(() => {
      assert.equal(handle.model?.updates, 6);
      const snap = handle.snapshot()!;
      assert.deepEqual(snap.labels, ['neg', 'pos']);
      assert.equal(handle.evaluator?.messages, 6);
      // A second subscription starts from scratch, from a restored snapshot when given one.
      const other = new LearnerHandle();
      from(labelled(3)).pipe(prequential({ createModel, initial: snap, evaluate: { reportEveryMs: 0 }, handle: other, scheduler })).subscribe();
      assert.equal(handle.model?.updates, 6);
    }, 8);
    flush();
    assert.equal(handle.model, undefined);
    first.unsubscribe();
  });
});
