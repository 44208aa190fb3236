/** The codecs tokrs gives KafkaJS, without a broker (test/integration/compression.test.ts has the broker's side). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { loadCodec, unframeXerial } from '../../src/kafka/codecs.js';

const require = createRequire(import.meta.url);
const snappy = require('snappy') as typeof import('snappy');
const raw = (block: Buffer): Buffer => snappy.uncompressSync(block, { asBuffer: true }) as Buffer;

/** Java's snappy-java framing: magic, version 1, compatible 1, then length-prefixed raw blocks. */
function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  return Buffer.concat([header, ...blocks.flatMap((b) => {
    const compressed = snappy.compressSync(b);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(compressed.length);
    return [length, compressed];
  })]);
}

test('each codec round-trips empty, small, large and incompressible data', async () => {
  for (const name of ['snappy', 'lz4', 'zstd'] as const) {
    const codec = loadCodec(name)!;
    for (const data of [Buffer.alloc(0), Buffer.from('味道不错'), Buffer.alloc(3 << 20, 'tokrs '), randomBytes(200_000)]) {
      assert.ok(codec.decompress(await codec.compress(data)).equals(data), `${name}, ${data.length} bytes`);
    }
  }
  assert.equal(loadCodec('none'), undefined);
  assert.equal(loadCodec('gzip'), undefined); // KafkaJS's own
});

test('snappy reads xerial framing (Java producers) and raw blocks (librdkafka, KafkaJS codecs)', () => {
  const a = Buffer.from('第一块'.repeat(1000));
  const b = randomBytes(5000);
  assert.ok(unframeXerial(xerial([a, b]), raw).equals(Buffer.concat([a, b])));
  assert.ok(unframeXerial(xerial([]), raw).equals(Buffer.alloc(0)));
  assert.ok(unframeXerial(snappy.compressSync(a), raw).equals(a));
  assert.ok(loadCodec('snappy')!.decompress(xerial([a])).equals(a));
  // Cut inside a length, and a length that runs past the end: DECODE errors saying where.
  const framed = xerial([a]);
  assert.throws(() => unframeXerial(framed.subarray(0, 18), raw), { code: 'TOKRS_ERR_DECODE', message: /inside a block length at byte 16/ });
  assert.throws(() => unframeXerial(framed.subarray(0, framed.length - 1), raw), { code: 'TOKRS_ERR_DECODE', message: /runs past the end/ });
  // A corrupt block is a DECODE error too, not the native package's own.
  assert.throws(() => loadCodec('snappy')!.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])), { code: 'TOKRS_ERR_DECODE', message: /does not decompress/ });
});
