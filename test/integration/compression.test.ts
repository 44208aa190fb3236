/**
 * Every compression a topology accepts, on the real broker. KafkaJS itself has only gzip; tokrs registers
 * snappy, lz4 and zstd (src/kafka/codecs.ts). Two directions:
 *
 * - what tokrs's sink sends with a codec is accepted (the broker decompresses each batch with Java's codec
 *   to validate it) and reads back byte for byte;
 * - what the broker compresses itself (a topic's `compression.type`, as a Java producer would write it:
 *   xerial-framed snappy, Java's lz4 and zstd frames) a tokrs consumer reads back byte for byte.
 *
 * A spy on the registered codecs checks that each direction really went through the codec under test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import kafkajs, { CompressionTypes, type Admin } from 'kafkajs';
import { ensureTopics } from '../../src/kafka/admin.js';
import { KafkaSink } from '../../src/kafka/sink.js';
import { readTopic, testKafka, uniqueName } from '../support/kafka.js';

const { CompressionCodecs } = kafkajs; // not a named export Node sees in KafkaJS's CommonJS
const kafka = testKafka(); // createKafka registers the codecs
let admin: Admin;

const TYPES = { snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as const;
type Native = keyof typeof TYPES;
const calls = { snappy: { compress: 0, decompress: 0 }, lz4: { compress: 0, decompress: 0 }, zstd: { compress: 0, decompress: 0 } };

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  for (const [name, type] of Object.entries(TYPES) as [Native, CompressionTypes.Snappy | CompressionTypes.LZ4 | CompressionTypes.ZSTD][]) {
    const registered = CompressionCodecs[type];
    CompressionCodecs[type] = () => {
      const codec = registered() as { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
      return {
        compress: (encoder: { buffer: Buffer }) => (calls[name].compress++, codec.compress(encoder)),
        decompress: (data: Buffer) => (calls[name].decompress++, codec.decompress(data)),
      };
    };
  }
});
after(async () => {
  await admin.disconnect();
});

/** Small JSON records, a large compressible one and a large incompressible one (several blocks and frames). */
function records(): Buffer[] {
  const small = Array.from({ length: 300 }, (_, i) => Buffer.from(JSON.stringify({ id: i, text: `第${i}条评论：味道不错，送餐很快` })));
  return [...small, Buffer.alloc(1 << 20, 'tokrs '), randomBytes(300_000), Buffer.alloc(0)];
}

describe('output and source compression on the real broker', () => {
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    test(`a sink with compression ${compression}: the broker accepts the batches and they read back equal`, async () => {
      const topic = uniqueName(`compress-out-${compression}`);
      await ensureTopics(admin, [{ topic, partitions: 1 }]);
      const before = compression === 'gzip' ? undefined : { ...calls[compression] };
      const sink = new KafkaSink({ kafka, compression, batchSize: 100 });
      await sink.connect();
      const values = records();
      for (const value of values) sink.send({ topic, key: 'k', value });
      await sink.close();
      const read = await readTopic(kafka, topic, values.length);
      assert.equal(read.length, values.length);
      read.forEach((r, i) => assert.ok(r.value.equals(values[i]!), `record ${i} differs`));
      if (before !== undefined) {
        assert.ok(calls[compression as Native].compress > before.compress, `the ${compression} codec compressed nothing`);
        assert.ok(calls[compression as Native].decompress > before.decompress, `the ${compression} codec decompressed nothing`);
      }
    });
  }

  for (const compression of ['snappy', 'lz4', 'zstd'] as const) {
    test(`a topic the broker compresses with ${compression} (as a Java producer would) reads back equal`, async () => {
      const topic = uniqueName(`compress-in-${compression}`);
      await ensureTopics(admin, [{ topic, partitions: 1, configs: { 'compression.type': compression } }]);
      const producer = kafka.producer();
      await producer.connect();
      const values = records();
      const before = { ...calls[compression] };
      // Uncompressed from here: the broker recompresses each batch with its own (Java) codec.
      for (let i = 0; i < values.length; i += 100) await producer.send({ topic, messages: values.slice(i, i + 100).map((value) => ({ value })) });
      await producer.disconnect();
      assert.equal(calls[compression].compress, before.compress);
      const read = await readTopic(kafka, topic, values.length);
      assert.equal(read.length, values.length);
      read.forEach((r, i) => assert.ok(r.value.equals(values[i]!), `record ${i} differs`));
      assert.ok(calls[compression].decompress > before.decompress, `nothing was decompressed with ${compression}: the broker did not compress?`);
    });
  }
});
