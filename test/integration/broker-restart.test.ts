/**
 * A broker restart in the middle of an exactly-once run: the run rides it out (KafkaJS reconnects, the
 * commit is retried in a fresh transaction, re-delivered messages are passed over) and ends with every
 * message counted exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { createKafka } from '../../src/kafka/client.js';
import { feedLines } from '../../src/kafka/feed.js';
import { LocalBroker, freePort } from '../../src/kafka/local-broker.js';
import { startTopology } from '../../src/topology/runner.js';
import { readReviews } from '../support/data.js';
import { freshTopology } from '../support/topology.js';

test('stopping and restarting the broker mid-run loses nothing and counts nothing twice', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokrs-restart-'));
  const port = await freePort();
  const controllerPort = await freePort();
  let broker = await LocalBroker.start({ dataDir, port, controllerPort });
  try {
    const kafka = createKafka({ brokers: [broker.bootstrap], clientId: 'restart-test', level: 'nothing', retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 } });
    const t = freshTopology('waimai-sentiment.yaml', (base) => ({
      ...base,
      guarantee: 'exactly-once',
      checkpoint: { topic: `${base.name}.state`, everyMessages: 2000, everyMs: 500 },
      // Slow the run down (one reservoir replay per message) so the restart lands in its middle.
      train: { ...base.train, replayEvery: 1, replayBatch: 64 },
    }));
    const topic = t.source.topics[0]!;
    await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));
    const reviews = readReviews();
    const total = 20_000;
    const lines = Array.from({ length: total }, (_, i) => JSON.stringify(reviews[i % reviews.length]));
    await feedLines(kafka, lines, { topic, format: 'json', jsonInput: true });

    const run = await startTopology(t, { kafka, sessionTimeout: 10_000 });
    while (run.state.seen < 4000) await new Promise((r) => setTimeout(r, 50));
    const seenAtStop = run.state.seen;
    await broker.stop({ graceMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2000));
    broker = await LocalBroker.start({ dataDir, port, controllerPort });
    // Done when everything was processed (or it is clearly stuck); then a graceful stop commits the rest.
    const deadline = Date.now() + 180_000;
    while (run.state.seen < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const summary = await run.stop();
    assert.ok(seenAtStop < total, `the broker stopped mid-run (at ${seenAtStop})`);
    assert.equal(summary.seen, total, 'every message processed');
    assert.equal(summary.labelled, total, 'and counted once');
    const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: t.source.group!, topics: [topic] }));
    assert.equal(committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0), total);
  } finally {
    await broker.stop({ deleteData: true });
  }
});
