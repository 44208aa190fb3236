/**
 * What it costs to give a decoded record its tokenize fields, the reason `withTokenized` in
 * src/topology/record.ts is not a leading spread: `npx tsx bench/record-copy.ts`.
 *
 * Records shaped as the decode stage makes them (id, text, label, timestamp, source), 512 of them taken in
 * turn; best of 5 rounds of 512,000 copies, in ns per copy.
 */
import type { SparseVector } from '../src/features/sparse-vector.js';
import { withTokenized, type TextRecord } from '../src/topology/record.js';

const records: TextRecord[] = Array.from({ length: 512 }, (_, i) => ({
  id: String(i),
  text: `text ${i}`,
  label: i % 2 === 0 ? 'positive' : 'negative',
  timestamp: 1_700_000_000_000 + i,
  source: { topic: 'in', partition: i % 3, offset: String(i) },
}));
const features: SparseVector = { indices: new Int32Array(3), values: new Float32Array(3), dim: 8 };

let sink = 0;
function time(name: string, copy: (r: TextRecord) => { timestamp: number }): void {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let k = 0; k < 1000; k++) for (let i = 0; i < records.length; i++) sink += copy(records[i]!).timestamp;
    best = Math.min(best, ((performance.now() - start) * 1e6) / (1000 * records.length));
  }
  console.log(`${name.padEnd(46)}${best.toFixed(0).padStart(8)} ns`);
}

console.log(`copying a record and adding its tokenize fields, node ${process.version}`);
time('{ ...record }', (r) => ({ ...r }));
time('{ ...record, tokenCount }', (r) => ({ ...r, tokenCount: 3 }));
time('{ ...record, tokenCount, truncated, features }', (r) => ({ ...r, tokenCount: 3, truncated: false, features }));
time('Object.assign({}, record, { … })', (r) => Object.assign({}, r, { tokenCount: 3, truncated: false, features }));
time('withTokenized(record, { … })', (r) => withTokenized(r, { tokenCount: 3, truncated: false, features }));
if (sink === -1) console.log(sink); // keeps the copies observable
