import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import { ERROR_CODES, isTokrsError } from '../../src/errors.js';
import { createRandom } from '../../src/sample/random.js';
import type { Sampler } from '../../src/sample/sampler.js';
import { createSampler, fieldAccessors, parseSampleConfig, SAMPLE_METHODS, type SampleConfigInput } from '../../src/sample/config.js';
import { sampleWith } from '../../src/sample/sample-operator.js';

interface Item {
  readonly i: number;
  readonly label: string;
  readonly tokenCount: number;
  readonly timestamp: number;
}

const items: Item[] = Array.from({ length: 3000 }, (_, i) => ({
  i,
  label: ['spam', 'ham', 'eggs'][i % 7 === 0 ? 2 : i % 3 === 0 ? 1 : 0],
  tokenCount: 1 + ((i * 7919) % 13),
  timestamp: 1_700_000_000_000 + i * 10,
}));

/** One config per sampler kind, so the conformance checks below run over all of them. */
const configs: Record<string, SampleConfigInput> = {
  uniform: { method: 'uniform', size: 40 },
  'uniform-r': { method: 'uniform-r', size: 40 },
  weighted: { method: 'weighted', size: 40 },
  'stratified shared': { method: 'stratified', size: 40 },
  'stratified per-label': { method: 'stratified', size: 15, stratified: { mode: 'per-label' } },
  recent: { method: 'recent', size: 40 },
  'window items': { method: 'recent', size: 40, recent: { windowItems: 500 } },
  'window ms': { method: 'recent', size: 40, recent: { windowMs: 3000 } },
  systematic: { method: 'systematic', size: 40, systematic: { every: 17 } },
  bernoulli: { method: 'bernoulli', size: 40, bernoulli: { p: 0.02 } },
};

function build(config: SampleConfigInput, seed: number | string): Sampler<Item> {
  return createSampler<Item>(config, fieldAccessors(parseSampleConfig(config)), createRandom(seed));
}

for (const [name, config] of Object.entries(configs)) {
  test(`${name}: seeded determinism, and snapshot -> JSON -> restore -> continue equals an uninterrupted run`, () => {
    const whole = build(config, 5);
    items.forEach((x) => whole.offer(x));
    const again = build(config, 5);
    items.forEach((x) => again.offer(x));
    assert.deepEqual(again.sample(), whole.sample());
    assert.ok(whole.size <= whole.capacity && whole.size === whole.sample().length);
    assert.equal(whole.count, items.length);
    for (const cut of [3, 41, 1234]) {
      const first = build(config, 5);
      items.slice(0, cut).forEach((x) => first.offer(x));
      const second = build(config, 'unrelated');
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      items.slice(cut).forEach((x) => second.offer(x));
      assert.deepEqual(second.sample(), whole.sample(), `cut at ${cut}`);
      assert.equal(second.count, items.length);
    }
    const batch = whole.drawBatch(16);
    assert.equal(batch.length, 16);
    const inSample = new Set(whole.sample().map((x) => x.i));
    assert.ok(batch.every((x) => inSample.has(x.i)));
  });
}

test('restoring a snapshot of another kind or version is a typed snapshot error', () => {
  const samplers = Object.values(configs).map((c) => build(c, 1));
  for (const a of samplers) {
    for (const b of samplers) {
      if (a.kind === b.kind) continue;
      assert.throws(
        () => a.restore(b.snapshot()),
        (e: unknown) => isTokrsError(e, ERROR_CODES.SNAPSHOT) && e.message.includes(`from a "${b.kind}" snapshot`),
      );
    }
    assert.throws(() => a.restore({ ...a.snapshot(), version: 2 }), (e: unknown) => isTokrsError(e, ERROR_CODES.SNAPSHOT));
  }
});

test('config: defaults, and clear messages for bad values', () => {
  const c = parseSampleConfig({});
  assert.equal(c.method, 'uniform');
  assert.equal(c.size, 1000);
  assert.equal(c.weightField, 'tokenCount');
  assert.equal(c.stratified.mode, 'shared');
  assert.equal(c.bernoulli.p, 0.01);
  assert.deepEqual([...SAMPLE_METHODS].sort(), ['bernoulli', 'recent', 'stratified', 'systematic', 'uniform', 'uniform-r', 'weighted']);
  assert.throws(
    () => parseSampleConfig({ size: -3 }, 'topologies/x.yaml'),
    (e: unknown) => isTokrsError(e, ERROR_CODES.CONFIG) && e.message === 'topologies/x.yaml: sample.size must be a positive integer, got -3',
  );
  assert.throws(() => parseSampleConfig({ method: 'magic' }), /sample\.method must be one of uniform, .*got "magic"/);
  assert.throws(() => parseSampleConfig({ bernoulli: { p: 0 } }), /sample\.bernoulli\.p must be a number in \(0, 1\], got 0/);
  assert.throws(
    () => createSampler<number>({ method: 'weighted' }, {}, createRandom(1)),
    (e: unknown) => isTokrsError(e, ERROR_CODES.CONFIG) && /needs a weight accessor/.test(e.message),
  );
});

test('operator: items pass through, each subscription has its own sampler, rejected items still flow', async () => {
  const seen: Sampler<Item>[] = [];
  const operator = sampleWith(() => build(configs.uniform, 3), { onSampler: (s) => seen.push(s) });
  const source = from(items.slice(0, 100));
  const out = await lastValueFrom(source.pipe(operator, toArray()));
  assert.deepEqual(out, items.slice(0, 100));
  await lastValueFrom(from(items.slice(0, 10)).pipe(operator, toArray()));
  assert.equal(seen.length, 2);
  assert.notEqual(seen[0], seen[1]);
  assert.equal(seen[0].count, 100);
  assert.equal(seen[1].count, 10);

  const resumed: Sampler<Item>[] = [];
  await lastValueFrom(
    from(items.slice(100, 200)).pipe(
      sampleWith(() => build(configs.uniform, 99), { restoreFrom: seen[1].snapshot(), onSampler: (s) => resumed.push(s) }),
      toArray(),
    ),
  );
  assert.equal(resumed[0].count, 110);

  const rejected: number[] = [];
  const weighted = sampleWith(() => build(configs.weighted, 1), { onRejected: (_e, x) => rejected.push(x.i) });
  const bad = items.slice(0, 5).map((x) => (x.i === 2 ? { ...x, tokenCount: 0 } : x));
  assert.equal((await lastValueFrom(from(bad).pipe(weighted, toArray()))).length, 5);
  assert.deepEqual(rejected, [2]);
  await assert.rejects(
    lastValueFrom(from(bad).pipe(sampleWith(() => build(configs.weighted, 1)))),
    (e: unknown) => isTokrsError(e, ERROR_CODES.SAMPLE),
  );
});
