/**
 * The one retry helper: exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter", 2015) for errors that may succeed later — a broker restarting, a leader moving. Errors that
 * will not (a fenced producer, a bad record) are thrown at once, so there is no retry storm.
 */
export interface RetryOptions {
  retries?: number;
  initialMs?: number;
  maxMs?: number;
  /** Called before each wait, e.g. to log. */
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
  isRetriable?: (error: unknown) => boolean;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const RETRIABLE_NAMES = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
]);

/** KafkaJS marks retriable protocol errors; connection-level failures are retriable too. */
export function isRetriableKafkaError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { retriable?: unknown; name?: unknown; type?: unknown };
  if (e.type === 'PRODUCER_FENCED' || e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED') return false;
  if (e.retriable === true || (typeof e.name === 'string' && RETRIABLE_NAMES.has(e.name))) return true;
  // KafkaJS wraps the last error of its own exhausted retries as non-retriable; what it gave up on
  // (a coordinator not found while the broker restarts) may still succeed a little later.
  const cause = (error as { cause?: unknown }).cause;
  return (e.name === 'KafkaJSNonRetriableError' || e.name === 'KafkaJSNumberOfRetriesExceeded') && cause !== undefined && isRetriableKafkaError(cause);
}

/** What a broker answers a member whose group has moved on (a rebalance since it joined); possibly wrapped by KafkaJS. */
const GROUP_MOVED_ON = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']);

/**
 * An offset commit refused because the group rebalanced under it. At least once, that commit can simply be
 * dropped: the member rejoins by itself, and whoever holds a partition next reads it from its last commit.
 */
export function isGroupMovedOnError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && GROUP_MOVED_ON.has(type)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export async function withRetry<T>(body: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 8;
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const retriable = options.isRetriable ?? isRetriableKafkaError;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await body(attempt);
    } catch (error) {
      if (attempt >= retries || !retriable(error)) throw error;
      const wait = Math.round(random() * Math.min(max, initial * 2 ** attempt));
      options.onRetry?.(error, attempt + 1, wait);
      await sleep(wait);
    }
  }
}
