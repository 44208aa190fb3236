/**
 * KafkaJS compresses and decompresses only gzip itself; the other codecs Kafka uses (snappy, lz4, zstd) it
 * leaves to the application. Without them tokrs could not publish with `outputs.compression: lz4`, and, as
 * important, could not read a source topic that a Java or librdkafka producer wrote with them: its
 * consumer would fail on the first such batch. `registerCodecs` gives KafkaJS all three, from native
 * packages (`snappy`, `lz4-napi`: prebuilt binaries from npm; `zstd-napi`: compiled at install).
 *
 * Formats are Kafka's own (record batch v2): snappy as raw blocks when producing (what librdkafka writes;
 * the broker and the Java client read it), and on reading also the xerial framing the Java client writes;
 * lz4 and zstd as standard frames.
 */
import { createRequire } from 'node:module';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { ERROR_CODES, TokrsError } from '../errors.js';
import type { Compression } from './sink.js';

const require = createRequire(import.meta.url);
// Not a named export Node can see in KafkaJS's CommonJS (unlike CompressionTypes).
const { CompressionCodecs } = kafkajs;

interface Codec {
  /** Off the main thread where the package can (snappy, lz4: a libuv pool task, as KafkaJS's gzip). */
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Buffer;
}

// The native packages load on first use, so a process that never meets a codec never loads its binary.
const loaders: Record<Exclude<Compression, 'none' | 'gzip'>, { pkg: string; load: () => Codec }> = {
  snappy: {
    pkg: 'snappy',
    load: () => {
      const snappy = require('snappy') as typeof import('snappy');
      const raw = (data: Buffer): Buffer => {
        try {
          return snappy.uncompressSync(data, { asBuffer: true }) as Buffer;
        } catch (e) {
          throw new TokrsError(ERROR_CODES.DECODE, `snappy block of ${data.length} bytes does not decompress: ${(e as Error).message}`);
        }
      };
      return { compress: (data) => snappy.compress(data), decompress: (data) => unframeXerial(data, raw) };
    },
  },
  lz4: {
    pkg: 'lz4-napi',
    load: () => {
      const lz4 = require('lz4-napi') as typeof import('lz4-napi');
      return { compress: (data) => lz4.compressFrame(data), decompress: (data) => lz4.decompressFrameSync(data) };
    },
  },
  zstd: {
    pkg: 'zstd-napi',
    load: () => {
      const zstd = require('zstd-napi') as typeof import('zstd-napi');
      return { compress: async (data) => zstd.compress(data), decompress: (data) => zstd.decompress(data) };
    },
  },
};

const loaded = new Map<Compression, Codec>();

/**
 * The codec for `compression`, loading its package now. Throws a CONFIG error naming the package when its
 * binary does not load on this platform, so a topology that asks for it is refused at start rather than
 * at its first send.
 */
export function loadCodec(compression: Compression): Codec | undefined {
  if (compression === 'none' || compression === 'gzip') return undefined; // KafkaJS's own
  const known = loaded.get(compression);
  if (known !== undefined) return known;
  const { pkg, load } = loaders[compression];
  let codec: Codec;
  try {
    codec = load();
  } catch (e) {
    throw new TokrsError(
      ERROR_CODES.CONFIG,
      `compression ${compression} needs the npm package ${pkg}, which did not load here (${(e as Error).message.split('\n')[0]}); ` +
        `reinstall with \`npm ci\` on this platform, or choose gzip or none`,
    );
  }
  loaded.set(compression, codec);
  return codec;
}

const TYPES = [
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD],
] as const;
let registered = false;

/** Gives KafkaJS the snappy, lz4 and zstd codecs (idempotent; createKafka calls it). */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  for (const [name, type] of TYPES) {
    // KafkaJS calls the factory each time it needs the codec, and awaits compress/decompress.
    CompressionCodecs[type] = () => ({
      compress: async (encoder: { buffer: Buffer }) => loadCodec(name)!.compress(encoder.buffer),
      decompress: async (data: Buffer) => loadCodec(name)!.decompress(data),
    });
  }
}

/** "\x82SNAPPY\0": the magic of the xerial snappy framing (Java's snappy-java SnappyOutputStream). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16; // magic, then version and minimum compatible version (u32 each)

/**
 * Snappy data as Kafka carries it: either one raw block, or xerial framing (a 16-byte header, then blocks
 * each behind its big-endian u32 length), which Java producers write. `raw` decompresses one block.
 */
export function unframeXerial(data: Buffer, raw: (block: Buffer) => Buffer): Buffer {
  if (data.length < XERIAL_HEADER || !data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return raw(data);
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER; at < data.length; ) {
    if (at + 4 > data.length) throw new TokrsError(ERROR_CODES.DECODE, `snappy (xerial) data ends inside a block length at byte ${at} of ${data.length}`);
    const length = data.readUInt32BE(at);
    at += 4;
    if (at + length > data.length) throw new TokrsError(ERROR_CODES.DECODE, `snappy (xerial) block of ${length} bytes at byte ${at} runs past the end (${data.length})`);
    blocks.push(raw(data.subarray(at, at + length)));
    at += length;
  }
  return Buffer.concat(blocks);
}
