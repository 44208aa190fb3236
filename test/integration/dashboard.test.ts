/**
 * Issue 9's must-show for the dashboard, on the real broker and in real headless Chromium: the waimai
 * topology runs on 2,000 reviews, the page's charts hold exactly the points of the metrics topic, the
 * "try it" box predicts, and a screenshot is saved (test-results/dashboard.png). Then over plain HTTP:
 * only the try-it route writes to Kafka, nobody's offsets are committed, and --token is enforced.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES, type MetricsRecord } from '../../src/codec/records.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { feedLines } from '../../src/kafka/feed.js';
import { metricsPoint, type MetricsPoint, type TopologyView } from '../../src/observe/dashboard/history.js';
import { startDashboard, type DashboardHandle } from '../../src/observe/dashboard/server.js';
import { loadTopology } from '../../src/topology/load.js';
import { startTopology, type RunHandle } from '../../src/topology/runner.js';
import type { Topology } from '../../src/topology/spec.js';
import { readReviews } from '../support/data.js';
import { eventually, testBrokers, testKafka, uniqueName } from '../support/kafka.js';

const kafka = testKafka('dashboard-test');
const REVIEWS = 2000;
const screenshot = fileURLToPath(new URL('../../test-results/dashboard.png', import.meta.url));

function topologyWithFreshTopics(): Topology {
  const base = loadTopology(fileURLToPath(new URL('../../topologies/waimai-sentiment.yaml', import.meta.url)));
  const name = uniqueName('waimai-ui');
  return {
    ...base,
    name,
    source: { ...base.source, topics: [uniqueName('reviews')], group: uniqueName('group') },
    // A point every 100 labelled reviews (no time trigger, so the count is exact) and a snapshot every 500.
    evaluate: { ...base.evaluate, reportEvery: 100, reportEveryMs: 0 },
    outputs: {
      ...base.outputs,
      metrics: { topic: `${name}.metrics` },
      snapshots: { topic: `${name}.snapshots`, everyMessages: 500 },
      predictions: { topic: `${name}.predictions` },
      deadLetters: { topic: `${name}.dead-letters` },
    },
  };
}

/** Every record of a metrics topic, read by a throwaway group that never commits. */
async function readMetrics(topic: string, atLeast: number): Promise<MetricsRecord[]> {
  const out: MetricsRecord[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => void out.push(decodeRecord(SCHEMA_NAMES.metrics, message.value!, message.headers)),
  });
  await eventually(() => (out.length >= atLeast ? true : undefined), 30_000, `${atLeast} metrics records in ${topic}`);
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return out;
}

const key = (p: Pick<MetricsPoint, 'time' | 'accuracy' | 'macroF1' | 'logLoss'>): string =>
  [p.time, p.accuracy, p.macroF1, p.logLoss].map((v) => (v === null ? 'null' : String(v))).join('|');

let t: Topology;
let run: RunHandle;
let dashboard: DashboardHandle;
let browser: Browser | undefined;

before(async () => {
  t = topologyWithFreshTopics();
  const topic = t.source.topics[0]!;
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
  // The dashboard starts first, as a user would open it before the run: it waits for the output topics.
  dashboard = await startDashboard({ topologies: [t], brokers: testBrokers(), lagIntervalMs: 500 });
  run = await startTopology(t, { kafka });
  await feedLines(kafka, readReviews().slice(0, REVIEWS).map((r) => JSON.stringify(r)), { topic, format: 'json', jsonInput: true });
  // A few messages that must become dead letters, so that panel has something to show.
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: '{"text": "truncated' }, { value: JSON.stringify({ label: 'positive' }) }] });
  await producer.disconnect();
});

after(async () => {
  const step = async (what: string, p: Promise<unknown> | undefined): Promise<void> => {
    const started = Date.now();
    await p;
    if (Date.now() - started > 2000) process.stderr.write(`dashboard test: ${what} took ${Date.now() - started} ms\n`);
  };
  await step('closing the browser', browser?.close());
  await step('closing the dashboard', dashboard?.close());
  await step('stopping the run', run?.stop());
});

test('the page charts exactly the metrics topic, shows the panels, and the try-it box predicts', async () => {
  const expectedPoints = REVIEWS / 100;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(dashboard.url);
  // Page-side expressions are strings: the project compiles without the DOM library.
  await page.waitForFunction(`Number(document.querySelector('#chart-quality').dataset.points) >= ${expectedPoints}`, null, { timeout: 90_000 });
  await page.waitForFunction(`document.querySelector('#snapshot-version') !== null && document.querySelector('[data-reason]') !== null`, null, { timeout: 60_000 });
  await page.waitForFunction(`document.querySelector('#status').dataset.state === 'live'`, null, { timeout: 30_000 });

  // What the charts hold, as uPlot has it: [x (s), accuracy, macro-F1, log-loss].
  const plotted = (await page.evaluate('window.__tokrs.charts.quality.data')) as (number | null)[][];
  const fromPage = plotted[0]!.map((x, i) => key({ time: Math.round(x! * 1000), accuracy: plotted[1]![i]!, macroF1: plotted[2]![i]!, logLoss: plotted[3]![i]! }));
  const records = await readMetrics(t.outputs.metrics!.topic, expectedPoints);
  const fromTopic = records.map(metricsPoint).map(key);
  assert.equal(fromPage.length, expectedPoints);
  assert.deepEqual([...fromPage].sort(), [...fromTopic].sort());
  // The points are real learning, not zeros: the last rolling accuracy is well above chance.
  const last = records.map(metricsPoint).sort((a, b) => a.time - b.time).at(-1)!;
  assert.ok(last.accuracy !== null && last.accuracy > 0.7, `rolling accuracy ${String(last.accuracy)}`);

  const mixLabels = await page.$$eval('#labelmix tr[data-label]', (rows) => rows.map((r) => r.getAttribute('data-label')));
  assert.deepEqual(mixLabels.sort(), ['negative', 'positive']);
  const reasons = await page.$$eval('#deadletters tr[data-reason]', (rows) => rows.map((r) => r.getAttribute('data-reason')));
  assert.ok(reasons.includes('TOKRS_ERR_DECODE') && reasons.includes('TOKRS_ERR_FIELD'), reasons.join(','));

  await page.fill('#try-text', '送餐很快，味道很好，下次还点');
  await page.click('#try-button');
  await page.waitForSelector('#try-label', { timeout: 30_000 });
  const label = await page.getAttribute('#try-label', 'data-label');
  const probabilities: Record<string, number> = Object.fromEntries(
    await page.$$eval('#try-probabilities tr', (rows) => rows.map((r) => [r.getAttribute('data-label') ?? '', Number(r.getAttribute('data-probability'))] as const)),
  );
  assert.equal(label, 'positive');
  assert.deepEqual(Object.keys(probabilities).sort(), ['negative', 'positive']);
  assert.ok(Math.abs(Object.values(probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.ok(probabilities.positive! > 0.5);

  // No CDN, no external resource: every request went to the dashboard itself.
  const origin = new URL(dashboard.url).origin;
  assert.deepEqual(requests.filter((u) => !u.startsWith(origin)), []);
  mkdirSync(fileURLToPath(new URL('../../test-results/', import.meta.url)), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
});

/** End offsets of every topic but the broker's internal ones, as "topic/partition" → high watermark. */
async function endOffsets(): Promise<Map<string, string>> {
  return withAdmin(kafka, async (admin) => {
    const out = new Map<string, string>();
    for (const topic of (await admin.listTopics()).filter((n) => !n.startsWith('__'))) {
      for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}/${p.partition}`, p.high);
    }
    return out;
  });
}

async function committed(groupId: string, topics: string[]): Promise<string[]> {
  return withAdmin(kafka, async (admin) =>
    (await admin.fetchOffsets({ groupId, topics })).flatMap((t) => t.partitions.map((p) => `${t.topic}/${p.partition}=${p.offset}`)).sort(),
  );
}

test('only POST /api/try writes to Kafka, no offsets are committed, and --token is enforced', async () => {
  // Quiet the broker first: the run stops (flushing and committing), so nothing else writes meanwhile.
  await run.stop();
  const guarded = await startDashboard({ topologies: [t], brokers: testBrokers(), token: 's3cret-token' });
  try {
    const watcher = dashboard.watchers.get(t.name)!;
    await eventually(() => (watcher.history.snapshotRecord !== undefined ? true : undefined), 30_000, 'a snapshot in the dashboard');
    const outputs = [t.outputs.metrics!.topic, t.outputs.snapshots!.topic, t.outputs.deadLetters!.topic];
    const sourceGroupBefore = await committed(t.source.group!, t.source.topics);
    const before = await endOffsets();
    const base = dashboard.url.replace(/\/$/, '');

    const gets = ['/', '/index.html', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css', '/api/topologies', `/api/state?topology=${t.name}`, '/api/state?topology=nope', '/nope'];
    const statuses: number[] = [];
    for (const path of gets) statuses.push((await fetch(base + path)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 404, 404]);
    const state = (await (await fetch(`${base}/api/state?topology=${t.name}`)).json()) as TopologyView;
    // Every 100 reviews, plus the report a stopping run makes.
    assert.equal(state.points.length, REVIEWS / 100 + 1);
    // SSE: the init event carries the whole view.
    const abort = new AbortController();
    const events = await fetch(`${base}/events?topology=${t.name}`, { signal: abort.signal });
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    assert.match(text, /event: init\ndata: \{/);
    const bad = [
      await fetch(`${base}/api/try`, { method: 'POST', body: 'text=hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      await fetch(`${base}/api/try`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } }),
      await fetch(`${base}/api/try`, { method: 'POST', body: JSON.stringify({ text: '' }), headers: { 'content-type': 'application/json' } }),
    ].map((r) => r.status);
    assert.deepEqual(bad, [415, 400, 400]);
    // DNS rebinding: a request naming another host is refused (fetch cannot set Host, node:http can).
    const rebound = await new Promise<number>((resolve, reject) => {
      request(base + '/', { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    assert.equal(rebound, 403);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await endOffsets(), before, 'a read-only route wrote to Kafka');

    const tried = await fetch(`${base}/api/try`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topology: t.name, text: '太难吃了，还送晚了一个小时' }),
    });
    assert.equal(tried.status, 200);
    const result = (await tried.json()) as { label: string; published: boolean };
    assert.equal(result.label, 'negative');
    assert.equal(result.published, true);
    const afterTry = await endOffsets();
    const changed = [...afterTry].filter(([k, v]) => before.get(k) !== v).map(([k]) => k.replace(/\/\d+$/, ''));
    assert.deepEqual([...new Set(changed)], [t.outputs.predictions!.topic]);

    // Nobody's offsets moved: the dashboards' own groups never committed, the topology's are as the run left them.
    for (const group of [watcher.groupId, guarded.watchers.get(t.name)!.groupId]) {
      assert.ok((await committed(group, outputs)).every((c) => c.endsWith('=-1')), `${group} committed offsets`);
    }
    assert.deepEqual(await committed(t.source.group!, t.source.topics), sourceGroupBefore);

    // --token: every data route needs it, as a bearer token or a query parameter.
    const g = guarded.url.replace(/\/\?token=.*$/, '');
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ topology: t.name, text: '好吃' });
    const guardedStatuses = [
      (await fetch(`${g}/`)).status,
      (await fetch(`${g}/api/topologies`)).status,
      (await fetch(`${g}/api/state?topology=${t.name}`)).status,
      (await fetch(`${g}/events?topology=${t.name}`)).status,
      (await fetch(`${g}/api/try`, { method: 'POST', headers: json, body })).status,
      (await fetch(`${g}/api/topologies?token=wrong`)).status,
      (await fetch(`${g}/api/topologies`, { headers: { authorization: 'Bearer wrong-token!' } })).status,
      (await fetch(`${g}/api/topologies?token=s3cret-token`)).status,
      (await fetch(`${g}/api/topologies`, { headers: { authorization: 'Bearer s3cret-token' } })).status,
      (await fetch(`${g}/?token=s3cret-token`)).status,
      (await fetch(`${g}/assets/uPlot.iife.min.js`)).status,
    ];
    assert.deepEqual(guardedStatuses, [401, 401, 401, 401, 401, 401, 401, 200, 200, 200, 200]);
    assert.equal(guarded.host, '127.0.0.1');
  } finally {
    await guarded.close();
  }
});
