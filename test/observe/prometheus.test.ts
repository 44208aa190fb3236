import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, tap } from 'rxjs';
import type { RawMessage } from '../../src/codec/decode-operator.js';
import { createTopologyMetrics } from '../../src/observe/prometheus.js';
import { parseTopology } from '../../src/topology/load.js';
import { topologyPipeline } from '../../src/topology/pipeline.js';
import { readReviews } from '../support/data.js';

test('the Prometheus endpoint reports what the pipeline did', async () => {
  const t = parseTopology('name: prom\nsource: { topics: [in], format: json }\nfeatures: { bits: 14 }\nevaluate: { reportEvery: 100, reportEveryMs: 0, rollingWindow: 50 }\nsample: { size: 50 }\n', 'prom.yaml');
  const messages: RawMessage[] = readReviews(undefined, 300).map((r, i) => ({
    topic: 'in', partition: 0, offset: String(i), key: null, timestamp: i, headers: {},
    value: Buffer.from(i === 7 ? '{broken' : JSON.stringify(r)),
  }));
  const metrics = createTopologyMetrics('prom', 'main');
  await lastValueFrom(from(messages).pipe(topologyPipeline(t, { runId: 'p' }), tap((o) => metrics.observe(o))));
  metrics.setLag(42);
  const server = await metrics.listen(0);
  try {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('tokrs_messages_in'), 300);
    assert.equal(value('tokrs_messages_labelled'), 299);
    assert.equal(value('tokrs_consumer_lag'), 42);
    assert.equal(value('tokrs_reservoir_fill_ratio'), 1);
    assert.match(text, /tokrs_dead_letters_total\{code="TOKRS_ERR_DECODE",topology="prom",instance="main"\} 1/);
    assert.ok(value('tokrs_rolling_accuracy') > 0.5);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    await metrics.close();
  }
});
