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
 * One batch, packed so that a structured clone copies few objects: the tokens of all texts in one string,
 * and the vectors of all texts one after the other in two transferred arrays. (A transferred buffer per
 * vector cost the worker an outside allocation per message and postMessage a detach per message: together
 * 7% of a worker's time.)
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
  /** Text i's vector is entries [offsets[i], offsets[i + 1]) of `indices` and `values` (none when rejected). */
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
  /** [i, code, message] for each rejected text; the message is what tokenizeAndHash would put after "record <id>: ". */
  readonly errors: [number, ErrorCode, string][];
}

/**
 * Tokens are cut from normalised text, where every control character became a space (the same guarantee
 * the featurizer's bigram separator relies on), so no token holds U+0000. The pool checks the count.
 */
export const TOKEN_SEPARATOR = '\u0000';

/** Tokenizes and hashes one batch; exported so tests can check the packing without a thread. */
export function processBatch(tokenizer: TextTokenizer, featurizer: Featurizer, request: BatchRequest): { reply: BatchReply; transfer: ArrayBuffer[] } {
  const n = request.texts.length;
  const counts = new Int32Array(n);
  const truncated = new Uint8Array(n);
  const offsets = new Int32Array(n + 1);
  const tokens: string[] = [];
  const errors: [number, ErrorCode, string][] = [];
  let used = 0;
  for (let i = 0; i < n; i++) {
    try {
      const t = tokenizer.tokenizeHashed(request.texts[i], featurizer, request.tokens !== false);
      // The featurizer writes straight into the batch's arrays: no vector of its own to allocate and copy.
      room(used + t.codeCount);
      used += featurizer.featurizeCodesInto(t.codes, t.codeCount, scratch.indices, scratch.values, used);
      counts[i] = t.tokenCount;
      truncated[i] = t.truncated ? 1 : 0;
      if (request.tokens !== false) for (let j = 0; j < t.tokens.length; j++) tokens.push(t.tokens[j]);
    } catch (error) {
      counts[i] = -1;
      // The same code and message as tokenizeAndHash's asStageError, without the record prefix the pool adds.
      if (isTokrsError(error)) errors.push([i, error.code, error.message]);
      else errors.push([i, ERROR_CODES.TOKENIZE, `tokenize failed: ${describeError(error)}`]);
    }
    offsets[i + 1] = used;
  }
  // Copied out of the scratch (which the next batch reuses) at their exact size: the transfer gives them away.
  const indices = scratch.indices.slice(0, used);
  const values = scratch.values.slice(0, used);
  const reply: BatchReply = { type: 'batch', seq: request.seq, counts, truncated, tokens: tokens.join(TOKEN_SEPARATOR), offsets, indices, values, errors };
  return { reply, transfer: [counts.buffer, truncated.buffer, offsets.buffer, indices.buffer, values.buffer] };
}

/** The vectors of the batch being answered, one after the other; kept from batch to batch, grown as needed. */
const scratch = { indices: new Int32Array(1 << 14), values: new Float32Array(1 << 14) };

function room(size: number): void {
  if (size <= scratch.indices.length) return;
  const indices = new Int32Array(2 * size);
  indices.set(scratch.indices);
  const values = new Float32Array(2 * size);
  values.set(scratch.values);
  scratch.indices = indices;
  scratch.values = values;
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
