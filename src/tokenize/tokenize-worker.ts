/**
 * Entry of one tokenize worker thread (started by `tokenizeOnWorkers` in worker-pool.ts): builds the
 * tokenizer and featurizer from the plain config in `workerData`, then answers batches of texts in the
 * packed form below. Nothing here throws to the pool: a text that fails is answered with its error's code
 * and message, and a config that fails is answered with one `fatal` message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, ERROR_CODES, isTokrsError, type ErrorCode } from '../errors.js';
import type { FeaturesConfigInput } from '../features/config.js';
import { createFeaturizer, type Featurizer } from '../features/featurizer.js';
import type { SparseVector } from '../features/sparse-vector.js';
import type { TokenizeConfigInput } from './config.js';
import { createTokenizer, type TextTokenizer } from './create-tokenizer.js';

export interface WorkerInit {
  /** Marks the workerData of a tokenize worker, so importing this module anywhere else starts nothing. */
  readonly role: 'tokrs-tokenize-worker';
  readonly tokenize: TokenizeConfigInput;
  readonly features: FeaturesConfigInput;
}

/** Pool → worker: the texts of one batch (a non-string text is rejected by the pool and sent as ''). */
export interface BatchRequest {
  readonly seq: number;
  readonly texts: string[];
  /** Whether to answer the tokens themselves (default true); counts and vectors are always answered. */
  readonly tokens?: boolean;
}

/** Worker → pool. */
export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly code: ErrorCode; readonly message: string }
  | BatchReply;

/**
 * One batch, packed so that a structured clone copies few objects: the tokens of all texts in one array,
 * and each vector as one transferred ArrayBuffer (Int32 indices, then Float32 values, `k` of each).
 */
export interface BatchReply {
  readonly type: 'batch';
  readonly seq: number;
  /** Tokens of text i; -1 when text i was rejected. */
  readonly counts: Int32Array;
  readonly truncated: Uint8Array;
  /**
   * The tokens of every accepted text, one after the other, joined by TOKEN_SEPARATOR: one string clones
   * several times faster than an array of ~1000 short ones (postMessage took a quarter of a worker's time).
   */
  readonly tokens: string;
  /** The vector of text i, or null when it is empty or the text was rejected. */
  readonly vectors: (ArrayBuffer | null)[];
  /** [i, code, message] for each rejected text; the message is what tokenizeAndHash would put after "record <id>: ". */
  readonly errors: [number, ErrorCode, string][];
}

/**
 * Tokens are cut from normalised text, where every control character became a space (the same guarantee
 * the featurizer's bigram separator relies on), so no token holds U+0000. The pool checks the count.
 */
export const TOKEN_SEPARATOR = '\u0000';

/** The vector's bytes in one buffer the pool can own: the featurizer's own buffer when it has that layout. */
export function packVector(v: SparseVector): ArrayBuffer | null {
  const k = v.indices.length;
  if (k === 0) return null;
  // Checked through byteOffset first: reading `.buffer` of a small on-heap typed array makes V8 move it off-heap.
  if (v.values.byteOffset === 4 * k && v.indices.byteOffset === 0 && v.indices.buffer === v.values.buffer) {
    const buffer = v.indices.buffer as ArrayBuffer;
    if (buffer.byteLength === 8 * k) return buffer;
  }
  const buffer = new ArrayBuffer(8 * k);
  new Int32Array(buffer, 0, k).set(v.indices);
  new Float32Array(buffer, 4 * k, k).set(v.values);
  return buffer;
}

/** Tokenizes and hashes one batch; exported so tests can check the packing without a thread. */
export function processBatch(tokenizer: TextTokenizer, featurizer: Featurizer, request: BatchRequest): { reply: BatchReply; transfer: ArrayBuffer[] } {
  const n = request.texts.length;
  const counts = new Int32Array(n);
  const truncated = new Uint8Array(n);
  const tokens: string[] = [];
  const vectors: (ArrayBuffer | null)[] = new Array<ArrayBuffer | null>(n).fill(null);
  const errors: [number, ErrorCode, string][] = [];
  const transfer: ArrayBuffer[] = [counts.buffer, truncated.buffer];
  for (let i = 0; i < n; i++) {
    try {
      const t = tokenizer.tokenize(request.texts[i]);
      const vector = packVector(featurizer.featurize(t.tokens));
      counts[i] = t.tokenCount;
      truncated[i] = t.truncated ? 1 : 0;
      if (request.tokens !== false) for (let j = 0; j < t.tokens.length; j++) tokens.push(t.tokens[j]);
      vectors[i] = vector;
      if (vector !== null) transfer.push(vector);
    } catch (error) {
      counts[i] = -1;
      // The same code and message as tokenizeAndHash's asStageError, without the record prefix the pool adds.
      if (isTokrsError(error)) errors.push([i, error.code, error.message]);
      else errors.push([i, ERROR_CODES.TOKENIZE, `tokenize failed: ${describeError(error)}`]);
    }
  }
  return { reply: { type: 'batch', seq: request.seq, counts, truncated, tokens: tokens.join(TOKEN_SEPARATOR), vectors, errors }, transfer };
}

const init = workerData as WorkerInit | null | undefined;
if (parentPort !== null && init?.role === 'tokrs-tokenize-worker') {
  const port = parentPort;
  let tokenizer: TextTokenizer | undefined;
  let featurizer: Featurizer | undefined;
  try {
    tokenizer = createTokenizer(init.tokenize);
    featurizer = createFeaturizer(init.features);
    port.postMessage({ type: 'ready' } satisfies WorkerReply);
  } catch (error) {
    const code = isTokrsError(error) ? error.code : ERROR_CODES.CONFIG;
    port.postMessage({ type: 'fatal', code, message: describeError(error) } satisfies WorkerReply);
  }
  if (tokenizer !== undefined && featurizer !== undefined) {
    const [t, f] = [tokenizer, featurizer];
    port.on('message', (request: BatchRequest) => {
      const { reply, transfer } = processBatch(t, f, request);
      port.postMessage(reply, transfer);
    });
  }
}
