/**
 * Learner throughput and snapshot cost: `npx tsx bench/learn.ts`.
 *
 * Updates/s of SoftmaxSgd (binary, 2^20 buckets) at 60 and 235 active features for each optimizer, with
 * and without (lazy) regularisation; tfjs on 2^14 buckets next to it; snapshot time of a 2^20-bucket
 * binary model. Goals: >= 1M updates/s at 60 features (SGD), snapshot < 50 ms. Figures are wall-clock on
 * whatever else the machine is doing, so each rate is the best of 5 windows of >= 300 ms (one 1.5 s window
 * gave 650k-1.05M for the same code on a quiet machine: one pause from elsewhere sinks the whole figure).
 */
import { gzipSync } from 'node:zlib';
import type { SparseVector } from '../src/features/sparse-vector.js';
import type { OnlineClassifier } from '../src/learn/classifier.js';
import { adagrad, ftrl, sgd, type Optimizer } from '../src/learn/optimizers.js';
import { SNAPSHOT_CODEC_VERSION, encodeModelSnapshot } from '../src/learn/snapshot-codec.js';
import { encodeRecord } from '../src/codec/avro.js';
import { modelSnapshotToRecord } from '../src/codec/mapping.js';
import { SCHEMA_NAMES } from '../src/codec/records.js';
import { hashSettings } from '../src/topology/pipeline.js';
import { SoftmaxSgd } from '../src/learn/softmax-sgd.js';
import { TfjsClassifier, ensureTfjsBackend, type TfjsBackend } from '../src/learn/tfjs-classifier.js';
import { prng } from '../test/support/prng.js';
import { createFeaturizer } from '../src/features/featurizer.js';
import { createClassifier } from '../src/learn/factory.js';
import { createTokenizer } from '../src/tokenize/create-tokenizer.js';
import { waimaiLines, waimaiTopology } from './support.js';


/** Zipf-ish bucket use, like hashed tokens: a few frequent buckets and a long tail; L2-normalised values. */
function makeData(dim: number, active: number, n: number, seed: number): { x: SparseVector; y: string }[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => {
    const set = new Set<number>();
    while (set.size < active) set.add(Math.floor(dim * Math.pow(r(), 3)));
    const idx = Int32Array.from([...set].sort((a, b) => a - b));
    const v = new Float32Array(active).fill(1 / Math.sqrt(active));
    return { x: { indices: idx, values: v, dim }, y: r() < 0.4 ? 'positive' : 'negative' };
  });
}

function measure(model: Pick<OnlineClassifier, 'learn'>, data: { x: SparseVector; y: string }[], minMs: number): number {
  for (let i = 0; i < Math.min(2000, data.length); i++) model.learn(data[i].x, data[i].y); // warm-up (JIT)
  let best = 0;
  for (let window = 0; window < 5; window++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < data.length; i++) model.learn(data[i].x, data[i].y);
      n += data.length;
      elapsed = performance.now() - start;
    } while (elapsed < minMs / 5);
    best = Math.max(best, (n * 1000) / elapsed);
  }
  return best;
}

const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
const DIM = 2 ** 20;
const optimizers: [string, Optimizer, number, number][] = [
  ['sgd constant', sgd({ lr: 0.5 }), 0, 0],
  ['sgd invscaling', sgd({ lr: 0.5, schedule: 'invscaling' }), 0, 0],
  ['adagrad', adagrad({ lr: 0.1 }), 0, 0],
  ['ftrl', ftrl({ alpha: 0.5 }), 0, 0],
  ['sgd constant + lazy L1/L2', sgd({ lr: 0.5 }), 1e-6, 1e-6],
  ['adagrad + lazy L1/L2', adagrad({ lr: 0.1 }), 1e-6, 1e-6],
  ['ftrl + L1/L2', ftrl({ alpha: 0.5 }), 1e-6, 1e-6],
];

console.log(`SoftmaxSgd, binary, dim 2^20, updates/s (node ${process.version})`);
console.log('optimizer                     |   60 features |  235 features');
console.log('------------------------------|---------------|--------------');
const data60 = makeData(DIM, 60, 20_000, 1);
const data235 = makeData(DIM, 235, 20_000, 2);
for (const [name, optimizer, l1, l2] of optimizers) {
  const a = measure(new SoftmaxSgd({ dim: DIM, optimizer, l1, l2 }), data60, 1500);
  const b = measure(new SoftmaxSgd({ dim: DIM, optimizer, l1, l2 }), data235, 1500);
  console.log(`${name.padEnd(30)}| ${fmt(a).padStart(13)} | ${fmt(b).padStart(13)}`);
}

// The waimai topology's model as a topology runs it: predict, then learn the same vector, with features
// spread over all buckets as hashing spreads them (not makeData's low buckets, which stay in cache).
console.log('\nPrequential predict + learn, adagrad + L2 1e-6 (the waimai model), 31 features of a 70,000-term');
console.log('vocabulary hashed uniformly into dim buckets: ns a message (best of 5 windows)');
for (const bits of [12, 16, 18, 20]) {
  const dim = 2 ** bits;
  const r = prng(7);
  const vocabulary = Int32Array.from({ length: 70_000 }, () => Math.floor(r() * dim));
  const data = Array.from({ length: 20_000 }, () => {
    const set = new Set<number>();
    while (set.size < 31) set.add(vocabulary[Math.floor(vocabulary.length * r() ** 2)]!);
    const indices = Int32Array.from([...set].sort((a, b) => a - b));
    return { x: { indices, values: new Float32Array(31).fill(1 / Math.sqrt(31)), dim }, y: r() < 0.4 ? 'positive' : 'negative' };
  });
  const model = new SoftmaxSgd({ dim, optimizer: adagrad({ lr: 0.2 }), l2: 1e-6 });
  const prequential = {
    learn: (x: SparseVector, y: string): void => {
      model.predictProba(x);
      model.learn(x, y);
    },
  };
  console.log(`dim 2^${bits}: ${fmt(1e9 / measure(prequential, data, 1500)).padStart(6)} ns`);
}

console.log('\nSoftmaxSgd sgd, 10 classes, dim 2^20: updates/s');
{
  const r = prng(9);
  const data = makeData(DIM, 60, 20_000, 3).map((e) => ({ x: e.x, y: `c${Math.floor(r() * 10)}` }));
  console.log(`60 features: ${fmt(measure(new SoftmaxSgd({ dim: DIM }), data, 1500))}`);
}

console.log('\ntfjs vs SoftmaxSgd (dim 2^14, 60 features, one example per update)');
console.log('model                                   |  updates/s');
console.log('----------------------------------------|-----------');
{
  const data = makeData(2 ** 14, 60, 400, 4);
  const backends: TfjsBackend[] = ['cpu', 'wasm', 'tensorflow'];
  for (const backend of backends) {
    let ok = true;
    try {
      await ensureTfjsBackend(backend);
    } catch {
      ok = false;
    }
    if (!ok) {
      console.log(`${`tfjs ${backend}`.padEnd(40)}| not available`);
      continue;
    }
    for (const hidden of [[], [16]]) {
      const m = new TfjsClassifier({ dim: 2 ** 14, hidden });
      const rate = measure(m, data, 1500);
      m.dispose();
      console.log(`${`tfjs ${backend}, hidden [${hidden.join(',')}]`.padEnd(40)}| ${fmt(rate).padStart(10)}`);
    }
  }
  console.log(`${'SoftmaxSgd sgd (same data)'.padEnd(40)}| ${fmt(measure(new SoftmaxSgd({ dim: 2 ** 14 }), makeData(2 ** 14, 60, 20_000, 4), 1500)).padStart(10)}`);
}

console.log('\nSnapshot of a 2^20-bucket binary model (median of 15)');
console.log('model                          | snapshot() ms | + encode to bytes ms |      bytes');
console.log('-------------------------------|---------------|----------------------|-----------');
for (const [name, optimizer, l1, l2] of [optimizers[0], optimizers[2], optimizers[3], optimizers[4]]) {
  const m = new SoftmaxSgd({ dim: DIM, optimizer, l1, l2 });
  for (const e of data60.slice(0, 5000)) m.learn(e.x, e.y);
  const snapTimes: number[] = [];
  const encTimes: number[] = [];
  let size = 0;
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const s = m.snapshot();
    const t1 = performance.now();
    size = encodeModelSnapshot(s).length;
    const t2 = performance.now();
    snapTimes.push(t1 - t0);
    encTimes.push(t2 - t0);
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(2);
  console.log(`${name.padEnd(31)}| ${med(snapTimes).padStart(13)} | ${med(encTimes).padStart(20)} | ${fmt(size).padStart(10)}`);
}

// The waimai topology's model after the 11,983 reviews, as `tokrs run` publishes it every 5,000 messages (the
// Avro snapshot record) and checkpoints it (the snapshot codec's bytes); gzip at zlib's default level is what
// the producer's gzip (KafkaJS) does to a batch.
console.log('\nSnapshot of the waimai model (its topology\'s tokenizer, features and model, trained on the reviews once; medians of 9)');
{
  const t = waimaiTopology({});
  const tokenizer = createTokenizer(t.tokenize);
  const featurizer = createFeaturizer(t.features);
  const model = createClassifier(t.model, { dim: featurizer.dim });
  for (const line of waimaiLines()) {
    const { text, label } = JSON.parse(line) as { text: string; label: number | string };
    const hashed = tokenizer.tokenizeHashed(text, featurizer, false);
    model.learn(featurizer.featurizeCodes(hashed.codes, hashed.codeCount), String(label));
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!.toFixed(2);
  const timed = <T>(times: number[], f: () => T): T => {
    const t0 = performance.now();
    const out = f();
    times.push(performance.now() - t0);
    return out;
  };
  const times = { snapshot: [] as number[], record: [] as number[], codec: [] as number[], gzipRecord: [] as number[], gzipCodec: [] as number[] };
  let sizes = { record: 0, codec: 0, gzipRecord: 0, gzipCodec: 0 };
  for (let i = 0; i < 9; i++) {
    const s = timed(times.snapshot, () => model.snapshot());
    const record = timed(times.record, () =>
      encodeRecord(SCHEMA_NAMES.modelSnapshot, modelSnapshotToRecord(s, { topology: t.name, runId: 'bench', version: i, hash: hashSettings(t), createdAt: 0 })).value,
    );
    const codec = timed(times.codec, () => encodeModelSnapshot(s));
    sizes = {
      record: record.length,
      codec: codec.length,
      gzipRecord: timed(times.gzipRecord, () => gzipSync(record)).length,
      gzipCodec: timed(times.gzipCodec, () => gzipSync(codec)).length,
    };
  }
  console.log(`snapshot() ${med(times.snapshot)} ms, format ${model.snapshot().version}`);
  console.log(`published (Avro record): encode ${med(times.record)} ms, ${fmt(sizes.record)} bytes; gzip ${med(times.gzipRecord)} ms -> ${fmt(sizes.gzipRecord)} bytes`);
  console.log(`checkpointed (codec ${SNAPSHOT_CODEC_VERSION}): encode ${med(times.codec)} ms, ${fmt(sizes.codec)} bytes; gzip ${med(times.gzipCodec)} ms -> ${fmt(sizes.gzipCodec)} bytes`);
}
