import { Observable, type OperatorFunction } from 'rxjs';
import { describeError, ERROR_CODES, isTokrsError, TokrsError } from '../errors.js';
import type { Featurizer } from '../features/featurizer.js';
import { withTokenized, type FeaturedRecord, type TextRecord } from '../topology/record.js';
import type { Reject } from '../topology/reject.js';
import type { TextTokenizer } from './create-tokenizer.js';

/** Counters the pipeline's metrics read; the operator only adds to them. */
export interface TokenizeStats {
  /** Records that came out with features. */
  messages: number;
  /** Sum of tokenCount over those records (tokens per message = tokens / messages). */
  tokens: number;
  /** Records whose text was cut to `maxLength`. */
  truncated: number;
  /** Records that came out with no tokens (empty, blank, or only stop words). */
  empty: number;
  /** Records handed to `reject`. */
  rejected: number;
  /** Tokens dropped beyond tokenize.maxTokens (such records also count as truncated). */
  tokensDropped?: number;
}

export const createTokenizeStats = (): TokenizeStats => ({ messages: 0, tokens: 0, truncated: 0, empty: 0, rejected: 0 });

export interface TokenizeOperatorOptions {
  /** Built once by `createTokenizer(config)`: loading a dictionary or BPE ranks costs up to a second. */
  readonly tokenizer: TextTokenizer;
  readonly featurizer: Featurizer;
  readonly reject: Reject;
  /** Shared counters for metrics; pass one from `createTokenizeStats()`. */
  readonly stats?: TokenizeStats;
  /** Called for every record that gets features, e.g. to fill a tokens-per-message histogram. */
  readonly onRecord?: (tokenCount: number, truncated: boolean) => void;
}

/**
 * The tokenize + features stage: adds `tokens`, `tokenCount`, `truncated` and `features` to each record.
 * A record whose text is not a string, or that the tokenizer fails on, goes to `reject` with a
 * TOKRS_ERR_TOKENIZE (or TOKRS_ERR_FEATURES) error and is dropped; nothing is thrown downstream.
 *
 * @example
 * from(records).pipe(tokenizeAndHash({ tokenizer: createTokenizer({}), featurizer: createFeaturizer({}), reject }))
 */
export function tokenizeAndHash(options: TokenizeOperatorOptions): OperatorFunction<TextRecord, FeaturedRecord> {
  const { tokenizer, featurizer, reject, stats = createTokenizeStats(), onRecord } = options;
  return (source) =>
    new Observable<FeaturedRecord>((subscriber) =>
      source.subscribe({
        next: (record) => {
          let out: FeaturedRecord;
          try {
            // Tokens and hashed terms in one step (one native call for nodejieba with tokrs's addon).
            const hashed = tokenizer.tokenizeHashed((record as { text: unknown } | null)?.text, featurizer);
            const { tokens, tokenCount, truncated } = hashed;
            const features = featurizer.featurizeCodes(hashed.codes, hashed.codeCount);
            out = withTokenized(record, { tokens, tokenCount, truncated, features });
            if (hashed.tokensDropped !== undefined) stats.tokensDropped = (stats.tokensDropped ?? 0) + hashed.tokensDropped;
          } catch (error) {
            stats.rejected++;
            reject(record, asStageError(record, error));
            return;
          }
          stats.messages++;
          stats.tokens += out.tokenCount;
          if (out.truncated) stats.truncated++;
          if (out.tokenCount === 0) stats.empty++;
          onRecord?.(out.tokenCount, out.truncated);
          subscriber.next(out);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

/** The error `reject` gets: the record's id in front, TOKRS_ERR_TOKENIZE unless the error has its own code. */
export function asStageError(record: unknown, error: unknown): TokrsError {
  const id = (record as { id?: unknown } | null)?.id;
  const where = typeof id === 'string' ? `record ${id}: ` : '';
  if (isTokrsError(error)) return new TokrsError(error.code, `${where}${error.message}`, { cause: error });
  return new TokrsError(ERROR_CODES.TOKENIZE, `${where}tokenize failed: ${describeError(error)}`, { cause: error });
}
