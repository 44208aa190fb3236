/**
 * Replay without a broker: range parsing errors, the event-time clock, and `--input` file replays that are
 * byte-for-byte reproducible (metrics records and report.json, timing aside).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, TokrsError } from '../../src/errors.js';
import { Progress } from '../../src/observe/progress.js';
import { EventTimeScheduler } from '../../src/topology/event-time.js';
import { loadTopology } from '../../src/topology/load.js';
import { describeBound, parseRangeBound, resolveLineRange } from '../../src/topology/range.js';
import { replay } from '../../src/topology/replay.js';
import { deterministicPart, writeReport } from '../../src/topology/replay-report.js';
import { encodeOutput } from '../../src/topology/runner.js';
import type { Topology } from '../../src/topology/spec.js';
import { readReviews } from '../support/data.js';

const waimai = (): Topology => {
  const base = loadTopology(fileURLToPath(new URL('../../topologies/waimai-sentiment.yaml', import.meta.url)));
  return { ...base, evaluate: { ...base.evaluate, reportEvery: 200, reportEveryMs: 60_000 }, outputs: { ...base.outputs, snapshots: null } };
};

test('range bounds: every accepted form parses', () => {
  assert.deepEqual(parseRangeBound('earliest', '--from'), { kind: 'earliest' });
  assert.deepEqual(parseRangeBound('latest', '--to'), { kind: 'latest' });
  const t = parseRangeBound('2024-06-01T08:00:00+08:00', '--from');
  assert.equal(t.kind, 'time');
  assert.equal(describeBound(t), '2024-06-01T00:00:00.000Z');
  assert.equal(describeBound(parseRangeBound('2024-06-01', '--from')), '2024-06-01T00:00:00.000Z');
  const o = parseRangeBound('0:100, 1:50,events:2:7', '--to');
  assert.deepEqual(o, {
    kind: 'offsets',
    offsets: [
      { partition: 0, offset: 100n },
      { partition: 1, offset: 50n },
      { topic: 'events', partition: 2, offset: 7n },
    ],
  });
});

test('range bounds: a bad --from or --to is a TOKRS_ERR_CONFIG naming the flag, the value and the accepted forms', () => {
  const cases: [string, '--from' | '--to', RegExp][] = [
    ['yesterday', '--from', /--from "yesterday" is not a known form; expected earliest, latest, an ISO 8601 time/],
    ['2024-06-01T08:00:00', '--from', /--from "2024-06-01T08:00:00" has no time zone \(add Z or an offset/],
    ['2024-13-45T00:00:00Z', '--to', /--to "2024-13-45T00:00:00Z" is not a valid date/],
    ['2024-06-01 at noon', '--from', /is not a valid ISO 8601 time/],
    ['0:abc', '--from', /has a bad item "0:abc" \(want partition:offset\)/],
    ['0:1,0:2', '--to', /names partition 0 twice/],
    ['', '--from', /--from "" is empty/],
  ];
  for (const [value, flag, message] of cases) {
    assert.throws(
      () => parseRangeBound(value, flag),
      (error: unknown) => error instanceof TokrsError && error.code === ERROR_CODES.CONFIG && message.test(error.message),
      `${flag} ${value}`,
    );
  }
  assert.throws(() => resolveLineRange(10, parseRangeBound('1:5', '--from'), { kind: 'latest' }, () => 0), /a file replay has one partition, 0/);
});

test('range bounds: --to before --from is refused, not replayed as an empty range', () => {
  const line = (from: string, to: string) => resolveLineRange(1000, parseRangeBound(from, '--from'), parseRangeBound(to, '--to'), () => 0);
  assert.throws(() => line('0:200', '0:100'), /--to 0:100 is before --from 0:200 in partition 0: the range would be empty/);
  assert.throws(() => line('2024-06-02T00:00:00Z', '2024-06-01T00:00:00Z'), /--to 2024-06-01T00:00:00(\.000)?Z is before --from 2024-06-02T00:00:00(\.000)?Z/);
  // Of different kinds, compared once resolved (here the time resolves to line 0).
  assert.throws(() => line('0:150', '2024-06-01T00:01:00Z'), /--to 2024-06-01T00:01:00(\.000)?Z is before --from 0:150 in the file \(offset 0 < 150\)/);
  assert.deepEqual(line('0:100', '0:100'), { start: 100, end: 100 });
  assert.deepEqual(line('0:100', '0:200'), { start: 100, end: 200 });
});

test('event-time scheduler: actions run when event time passes their due time, stamped with it', () => {
  const s = new EventTimeScheduler(1_000);
  const fired: number[] = [];
  const periodic = s.schedule(function () {
    fired.push(s.now());
    this.schedule(undefined, 500);
  }, 500);
  s.advanceTo(1_499);
  assert.deepEqual(fired, []);
  s.advanceTo(2_600);
  assert.deepEqual(fired, [1_500, 2_000, 2_500]);
  assert.equal(s.now(), 2_600);
  s.advanceTo(2_000); // event time never goes back
  assert.equal(s.now(), 2_600);
  periodic.unsubscribe();
  s.advanceTo(10_000);
  assert.deepEqual(fired, [1_500, 2_000, 2_500]);
  assert.equal(s.pending, 0);
});

test('--input file replay: the same file and topology give byte-identical metrics records and report.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokrs-replay-'));
  try {
    const file = join(dir, 'reviews.jsonl');
    const start = Date.parse('2024-06-01T00:00:00Z');
    // One review every 7 s of event time, so 60 s time windows and time-triggered reports happen in the data.
    const lines = readReviews(undefined, 700).map((r, i) => JSON.stringify({ ...r, timestamp: start + i * 7_000 }));
    lines.splice(100, 0, '{"text": "truncated', '', JSON.stringify({ label: 'positive' }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const t = waimai();

    const once = async (name: string) => {
      const records: Buffer[] = [];
      const report = await replay({
        topologies: [t],
        input: file,
        onOutput: (_i, output) => {
          if (output.kind === 'metrics') records.push(encodeOutput(t, output)!.value);
        },
      });
      await writeReport(report, join(dir, name), { png: false });
      return { report, records };
    };
    const a = await once('a');
    const b = await once('b');

    const run = a.report.runs[0]!;
    assert.equal(a.report.range.replayed, 702, 'every non-empty line, the bad ones too');
    assert.equal(run.counts.seen, 702);
    assert.deepEqual(run.deadLetters, { TOKRS_ERR_DECODE: 1, TOKRS_ERR_FIELD: 1 });
    assert.equal(run.final.count, run.series.at(-1)!.scored);
    assert.ok(run.final.accuracy > 0.6, `accuracy ${run.final.accuracy}`);
    assert.match(run.runId, /^replay-[0-9a-f]{16}$/);
    const timeReports = run.series.filter((p) => p.trigger === 'time');
    assert.ok(timeReports.length >= 70, `time-triggered reports on event time: ${timeReports.length}`);
    for (const p of timeReports) assert.equal((p.time - start) % 60_000, 0, 'a time report is stamped with its due event time');

    assert.ok(a.records.length > 5);
    assert.deepEqual(b.records, a.records, 'metrics records, byte for byte');
    const strip = (path: string) => {
      const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      delete json.timing;
      return JSON.stringify(json);
    };
    assert.equal(strip(join(dir, 'b', 'report.json')), strip(join(dir, 'a', 'report.json')));
    assert.deepEqual(deterministicPart(b.report), deterministicPart(a.report));
    assert.match(readFileSync(join(dir, 'a', 'report.html'), 'utf8'), /uPlot/);

    // A sub-range by line numbers and by time.
    const part = await replay({ topologies: [t], input: file, from: '0:200', to: '2024-06-01T01:00:00Z' });
    assert.equal(part.range.partitions[0]!.start, '200');
    assert.equal(part.range.partitions[0]!.end, String(Math.ceil(3_600_000 / 7_000) + 3), 'first line at or after 01:00, counting the 3 inserted lines');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress: plain lines with done/total, rate and ETA when not on a terminal', () => {
  let out = '';
  const stream = new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) });
  let now = 0;
  const p = new Progress({ total: 1000, stream, now: () => now, lineIntervalMs: 1000 });
  now = 1000;
  p.update(250);
  now = 1500;
  p.update(400); // within the interval: no line
  now = 2000;
  p.update(500);
  p.finish();
  assert.deepEqual(out.trim().split('\n'), [
    'replay: 250/1,000  25%  250 msg/s  ETA 0:03',
    'replay: 500/1,000  50%  250 msg/s  ETA 0:02',
    'replay: 500/1,000  50%  250 msg/s  ETA 0:02',
  ]);
});
