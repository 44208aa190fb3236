/**
 * Calls `after(item)` once everything downstream has handled `item`. Downstream stages are synchronous, so
 * when `subscriber.next(item)` returns, the item has been scored, learned from and its outputs queued: the
 * moment its source offset may count as processed.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';

export function afterEach<T>(after: (item: T) => void): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next(item) {
          subscriber.next(item);
          after(item);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
