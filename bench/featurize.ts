/**
 * Where the featurizer's time goes (issue 3): `npx tsx bench/featurize.ts`.
 *
 * Over the jieba tokens of every waimai review (tokenized once, outside the clock): the whole `featurize`
 * call, MurmurHash3 alone on the same tokens, and the cost of allocating a vector's output arrays, on V8's
 * heap (up to 64 bytes each: 16 features) and off it (one ArrayBuffer and two views, as `featurize` does for
 * longer vectors). Best of 5 rounds, in ns per message or per allocation.
 */
import { createFeaturizer } from '../src/features/featurizer.js';
import { murmur3Pair } from '../src/features/murmur3.js';
import { createTokenizer } from '../src/tokenize/create-tokenizer.js';
import { intOption, waimaiLines } from './support.js';

const ROUNDS = intOption('rounds', 5, 1);
const tokenizer = createTokenizer({ tokenizer: 'jieba' });
const tokens = waimaiLines().map((line) => [...tokenizer.tokenize((JSON.parse(line) as { text: string }).text).tokens]);
const featurizer = createFeaturizer({ bits: 20 });
const pair = new Uint32Array(2);
const meanTokens = tokens.reduce((s, t) => s + t.length, 0) / tokens.length;
const longer = tokens.filter((t) => new Set(t).size > 16).length / tokens.length;

/** Best ns per unit over ROUNDS rounds of `units` units each. */
function best(units: number, round: () => number): number {
  let min = Infinity;
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    sink += round();
    min = Math.min(min, ((performance.now() - t0) * 1e6) / units);
  }
  if (sink === -1) console.log(sink); // keeps the work observable
  return min;
}

const featurize = best(tokens.length * 5, () => {
  let n = 0;
  for (let k = 0; k < 5; k++) for (const t of tokens) n += featurizer.featurize(t).indices.length;
  return n;
});
const hash = best(tokens.length * 5, () => {
  let n = 0;
  for (let k = 0; k < 5; k++) for (const t of tokens) for (const s of t) {
      murmur3Pair(s, 0, 1, pair);
      n += pair[0]!;
    }
  return n;
});
const N = 1_000_000;
const onHeap = best(N, () => {
  let n = 0;
  for (let i = 0; i < N; i++) n += new Int32Array(12).length + new Float32Array(12).length;
  return n;
});
const offHeap = best(N, () => {
  let n = 0;
  for (let i = 0; i < N; i++) {
    const buffer = new ArrayBuffer(160);
    n += new Int32Array(buffer, 0, 20).length + new Float32Array(buffer, 80, 20).length;
  }
  return n;
});

console.log(`${tokens.length} messages, ${meanTokens.toFixed(1)} tokens each on average, ${(100 * longer).toFixed(0)}% with more than 16 distinct tokens`);
console.log(`featurize (2^20 buckets)              ${featurize.toFixed(0).padStart(6)} ns/message`);
console.log(`  of which MurmurHash3 pairs          ${hash.toFixed(0).padStart(6)} ns/message`);
console.log(`output arrays, 12 features (on heap)  ${onHeap.toFixed(0).padStart(6)} ns`);
console.log(`output arrays, 20 features (off heap) ${offHeap.toFixed(0).padStart(6)} ns`);
