/**
 * Issue 10's must-show on the real broker: 10,000 malformed messages (bad UTF-8, invalid Avro, truncated
 * records, empty values and tombstones, four 10 MB values, JSON with wrong types, missing fields, texts over
 * the limit) sent while valid reviews flow through a running JSON topology. Zero crashes, every malformed
 * message in the dead-letter topic with its reason and original bytes, every valid one counted; the byte
 * bound on in-flight messages holds with the 10 MB values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRecord } from '../../src/codec/avro.js';
import { decodeRecord } from '../../src/codec/avro.js';
import { SCHEMA_NAMES, type DeadLetterRecord } from '../../src/codec/records.js';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { parseTopology } from '../../src/topology/load.js';
import { startTopology } from '../../src/topology/runner.js';
import { readReviews } from '../support/data.js';
import { testKafka, uniqueName } from '../support/kafka.js';
import { prng } from '../support/prng.js';

const kafka = testKafka('malformed');
const MB = 1024 * 1024;

interface Bad {
  value: Buffer | null;
  code: 'TOKRS_ERR_DECODE' | 'TOKRS_ERR_FIELD' | 'TOKRS_ERR_LIMIT';
}

/** The i-th malformed message and the code it must be dead-lettered with; deterministic. */
function malformed(i: number, random: () => number, review: { text: string; label: string }): Bad {
  const json = JSON.stringify(review);
  switch (i % 12) {
    case 0: {
      // Bad UTF-8 inside an otherwise valid JSON text: a lone continuation byte, an overlong form, 0xff.
      const bytes = Buffer.from(json);
      const at = 9 + Math.floor(random() * Math.max(1, bytes.length - 12));
      return { value: Buffer.concat([bytes.subarray(0, at), Buffer.from([[0x80], [0xc0, 0xaf], [0xff], [0xed, 0xa0, 0x80]][Math.floor(i / 12) % 4]!), bytes.subarray(at)]), code: 'TOKRS_ERR_DECODE' };
    }
    case 1: // truncated record
      return { value: Buffer.from(json).subarray(0, 1 + Math.floor(random() * (Buffer.byteLength(json) - 2))), code: 'TOKRS_ERR_DECODE' };
    case 2:
      return { value: Buffer.alloc(0), code: 'TOKRS_ERR_DECODE' };
    case 3:
      return { value: null, code: 'TOKRS_ERR_DECODE' }; // a tombstone
    case 4: {
      // Avro (a dev.tokrs.TextEvent, valid or truncated) where JSON is expected.
      const avro = encodeRecord('dev.tokrs.TextEvent', { id: `a${i}`, text: review.text, label: review.label, timestamp: null, attributes: {} }).value;
      return { value: random() < 0.5 ? avro : avro.subarray(0, Math.max(1, avro.length - 3)), code: 'TOKRS_ERR_DECODE' };
    }
    case 5:
      return { value: Buffer.from(JSON.stringify({ text: [review.text], label: review.label })), code: 'TOKRS_ERR_FIELD' };
    case 6:
      return { value: Buffer.from(JSON.stringify({ text: review.text, label: [1, 0, true, { y: 1 }][Math.floor(i / 12) % 4] })), code: 'TOKRS_ERR_FIELD' };
    case 7:
      return { value: Buffer.from(JSON.stringify({ label: review.label, body: review.text })), code: 'TOKRS_ERR_FIELD' }; // missing text
    case 8:
      return { value: Buffer.from(JSON.stringify([[review.text], review.label, 42, null][Math.floor(i / 12) % 4] ?? null)), code: 'TOKRS_ERR_FIELD' }; // not an object
    case 9:
      return { value: Buffer.from(JSON.stringify({ text: '', label: review.label })), code: 'TOKRS_ERR_FIELD' };
    case 10:
      return { value: Buffer.from(JSON.stringify({ text: review.text, label: review.label, timestamp: 'yesterday' })), code: 'TOKRS_ERR_FIELD' };
    default:
      return { value: Buffer.from(JSON.stringify({ text: '好'.repeat(5_001), label: review.label })), code: 'TOKRS_ERR_LIMIT' }; // over maxTextLength
  }
}

test('10,000 malformed messages among valid traffic: no crash, each one dead-lettered with its reason, each valid one counted', async () => {
  const name = uniqueName('malformed');
  const topic = `${name}-in`;
  const t = parseTopology(
    `
name: ${name}
seed: 7
source:
  topics: [${topic}]
  group: ${name}-g
  format: json
  limits: { maxBytes: ${MB}, maxTextLength: 5000 }
  maxInFlight: 2000
  maxInFlightBytes: ${24 * MB}
tokenize: { tokenizer: chars, chars: { n: 2 } }
features: { bits: 16 }
sample: { size: 500 }
evaluate: { reportEvery: 1000, reportEveryMs: 0 }
outputs:
  metrics: { topic: ${name}.metrics }
  deadLetters: { topic: ${name}.dead-letters }
`,
    'malformed.yaml',
  );
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic, partitions: 3 }]));

  const random = prng(20240601);
  const reviews = readReviews(undefined, 6000).map((r) => ({ text: String(r.text), label: String(r.label) }));
  const bad: Bad[] = Array.from({ length: 10_000 }, (_, i) => malformed(i, random, reviews[i % reviews.length]!));
  // Four 10 MB values, over source.limits.maxBytes: also what the in-flight byte bound is for.
  for (let i = 0; i < 4; i++) bad[2_500 * i + 17] = { value: Buffer.alloc(10 * MB, 0x61 + i), code: 'TOKRS_ERR_LIMIT' };

  const run = await startTopology(t, { kafka, idleExitMs: 4_000, sourcePartitions: 3 });
  // Sent while the topology runs: batches of valid reviews with malformed messages mixed in.
  const producer = kafka.producer();
  await producer.connect();
  let b = 0;
  for (let v = 0; v < reviews.length; v += 200) {
    const messages: { key: string; value: Buffer | null }[] = reviews.slice(v, v + 200).map((r, j) => ({ key: `ok-${v + j}`, value: Buffer.from(JSON.stringify(r)) }));
    const share = Math.ceil(bad.length / Math.ceil(reviews.length / 200));
    for (const end = Math.min(bad.length, b + share); b < end; b++) messages.splice(Math.floor(random() * messages.length), 0, { key: `bad-${b}`, value: bad[b]!.value });
    // Big values go one per request, the rest in one request.
    const big = messages.filter((m) => (m.value?.length ?? 0) > MB);
    await producer.send({ topic, messages: messages.filter((m) => (m.value?.length ?? 0) <= MB) });
    for (const m of big) await producer.send({ topic, messages: [m] });
  }
  await producer.disconnect();
  const summary = await run.finished; // rejects on a crash

  const expected: Record<string, number> = {};
  for (const x of bad) expected[x.code] = (expected[x.code] ?? 0) + 1;
  assert.equal(summary.seen, reviews.length + bad.length);
  assert.equal(summary.labelled, reviews.length, 'every valid message counted');
  assert.deepEqual(summary.deadLetters, expected);
  assert.ok(run.source.maxObservedBytesInFlight <= 24 * MB + 10 * MB, `bytes in flight peaked at ${run.source.maxObservedBytesInFlight}`);
  assert.ok(run.source.maxObservedBytesInFlight >= 10 * MB, 'the 10 MB values were counted in flight');

  // The dead-letter topic: exactly the malformed messages, each with its code, reason and original bytes.
  const dead = new Map<string, DeadLetterRecord>();
  const consumer = kafka.consumer({ groupId: uniqueName('dead-reader'), maxBytesPerPartition: 64 * MB, maxBytes: 128 * MB });
  await consumer.connect();
  await consumer.subscribe({ topic: t.outputs.deadLetters!.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const d = decodeRecord(SCHEMA_NAMES.deadLetter, message.value!, message.headers);
      dead.set(`${d.sourcePartition}:${d.sourceOffset}`, d);
    },
  });
  const deadline = Date.now() + 60_000;
  while (dead.size < bad.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  assert.equal(dead.size, bad.length, 'one dead letter per malformed message');
  for (const d of dead.values()) {
    const key = d.key?.toString() ?? '';
    assert.match(key, /^bad-\d+$/, `a valid message was dead-lettered: ${d.errorCode} ${d.errorMessage}`);
    const original = bad[Number(key.slice(4))]!;
    assert.equal(d.errorCode, original.code, `${key}: ${d.errorMessage}`);
    assert.ok(d.errorMessage.length > 10);
    if (original.value === null) assert.equal(d.value ?? null, null);
    else assert.ok(d.value != null && d.value.equals(original.value), `${key} keeps its original bytes`);
  }

  // The last metrics record counts the same.
  const metrics: Buffer[] = [];
  const mc = kafka.consumer({ groupId: uniqueName('metrics-reader') });
  await mc.connect();
  await mc.subscribe({ topic: t.outputs.metrics!.topic, fromBeginning: true });
  await mc.run({ eachMessage: async ({ message }) => void metrics.push(message.value!) });
  const until = Date.now() + 30_000;
  while (metrics.length < 16 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 500));
  await mc.disconnect();
  const last = metrics.map((m) => decodeRecord(SCHEMA_NAMES.metrics, m)).sort((a, b2) => a.counts.seen - b2.counts.seen).at(-1)!;
  assert.equal(last.counts.seen, reviews.length + bad.length);
  assert.equal(last.counts.labelled, reviews.length);
  assert.deepEqual({ ...last.counts.deadLetters }, expected);
});
