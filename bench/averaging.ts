/**
 * Model averaging across processes (#8, scale-out), without Kafka:
 *
 *   npx tsx bench/averaging.ts [--seeds 3] [--partitions 6]
 *
 * The waimai reviews (bench/support.ts), shuffled once per seed, are the topic; message i goes to partition
 * i mod PARTITIONS and partition q to process q mod P (P = 2, 3), as a consumer group would spread them.
 * Every process keeps its own model with the waimai topology's tokenizer, features and model settings
 * (topologies/waimai-sentiment.yaml) and learns prequentially from its own messages only: predict, then
 * learn (stream only: the topology's reservoir replay is per process and orthogonal to averaging). Every I
 * messages of the whole stream, each process replaces its model with `averageModels([own, ...others])` of
 * all models as they are at that moment, i.e. publishing is taken as instant (an upper bound on what a
 * snapshot topic with delay gives). I = none means the processes never share anything.
 *
 * Printed per setting: prequential accuracy and macro-F1 over all processes' predictions (the whole
 * stream), the mean over seeds with the smallest and largest, next to one process learning the whole
 * stream; and the mean time of one `averageModels` call.
 */
import { performance } from 'node:perf_hooks';
import { ConfusionMatrix, accuracyOf, macroOf } from '../src/evaluate/metrics.js';
import { createFeaturizer } from '../src/features/featurizer.js';
import type { SparseVector } from '../src/features/sparse-vector.js';
import { averageModels } from '../src/learn/average.js';
import type { OnlineClassifier } from '../src/learn/classifier.js';
import { createClassifier } from '../src/learn/factory.js';
import { createRandom, randomBelow } from '../src/sample/random.js';
import { createTokenizer } from '../src/tokenize/create-tokenizer.js';
import { modelSpace } from '../src/topology/pipeline.js';
import { intOption, waimaiLines, waimaiTopology } from './support.js';

const SEEDS = intOption('seeds', 3, 1);
const PARTITIONS = intOption('partitions', 6, 1);
const PROCESSES = [2, 3];
const EVERY = [undefined, 500, 2000, 10_000];

const t = waimaiTopology({}, false);
const tokenizer = createTokenizer(t.tokenize);
const featurizer = createFeaturizer(t.features);
const space = modelSpace(t);
const messages = waimaiLines().map((line) => {
  const { text, label } = JSON.parse(line) as { text: string; label: unknown };
  return { features: featurizer.featurize(tokenizer.tokenize(text).tokens), label: String(label) };
});

interface Run {
  accuracy: number;
  macroF1: number;
  /** Milliseconds per `averageModels` call. */
  averageMs: number[];
}

/** One pass over the stream in `order` with `processes` processes averaging every `every` messages. */
function simulate(order: readonly number[], processes: number, every: number | undefined): Run {
  const models: OnlineClassifier[] = Array.from({ length: processes }, () => createClassifier(t.model, space));
  const cm = new ConfusionMatrix();
  const averageMs: number[] = [];
  for (let i = 0; i < order.length; i++) {
    const { features, label } = messages[order[i]];
    const model = models[(i % PARTITIONS) % processes];
    step(model, features, label, cm);
    if (every !== undefined && processes > 1 && (i + 1) % every === 0) {
      const snapshots = models.map((m) => m.snapshot());
      models.forEach((m, p) => {
        const start = performance.now();
        const mixed = averageModels([snapshots[p], ...snapshots.filter((_, q) => q !== p)]);
        averageMs.push(performance.now() - start);
        m.restore(mixed);
      });
    }
  }
  return { accuracy: accuracyOf(cm), macroF1: macroOf(cm, 'f1'), averageMs };
}

/** Test, then train; a model that has seen no label yet makes no prediction (as the prequential operator). */
function step(model: OnlineClassifier, x: SparseVector, y: string, cm: ConfusionMatrix): void {
  const predicted = model.predict(x);
  if (predicted !== undefined) cm.update({ yTrue: y, yPred: predicted });
  model.learn(x, y);
}

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = createRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = randomBelow(random, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const settings: { name: string; processes: number; every: number | undefined }[] = [
  { name: '1 process, whole stream', processes: 1, every: undefined },
  ...PROCESSES.flatMap((processes) => EVERY.map((every) => ({ name: `${processes} processes, average ${every === undefined ? 'never' : `every ${every}`}`, processes, every }))),
];
const runs = settings.map(() => [] as Run[]);
for (let seed = 1; seed <= SEEDS; seed++) {
  const order = shuffled(messages.length, seed);
  settings.forEach((s, k) => runs[k].push(simulate(order, s.processes, s.every)));
}

const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const spread = (xs: readonly number[]) => `${mean(xs).toFixed(4)} (${Math.min(...xs).toFixed(4)}-${Math.max(...xs).toFixed(4)})`;
console.log(
  `waimai_10k (${messages.length} messages), ${PARTITIONS} partitions, prequential over all processes, model ${JSON.stringify(t.model.optimizer)} l2 ${t.model.l2}, ${SEEDS} shuffles: mean (min-max)\n`,
);
console.log('setting                          | accuracy                | macro-F1                | ms per average');
console.log('---------------------------------|-------------------------|-------------------------|---------------');
settings.forEach((s, k) => {
  const ms = runs[k].flatMap((r) => r.averageMs);
  const accuracy = runs[k].map((r) => r.accuracy);
  const f1 = runs[k].map((r) => r.macroF1);
  console.log(`${s.name.padEnd(33)}| ${spread(accuracy).padEnd(24)}| ${spread(f1).padEnd(24)}| ${ms.length === 0 ? '-' : mean(ms).toFixed(1)}`);
});
