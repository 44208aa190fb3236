/**
 * The sample stage as an RxJS operator: items pass through unchanged while a sampler sees every one.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { Sampler, SamplerSnapshot } from './sampler.js';

export interface SampleOperatorOptions<T> {
  /** Called once per subscription with that subscription's sampler: the learner draws replay batches from it, the checkpointer snapshots it. */
  readonly onSampler?: (sampler: Sampler<T>) => void;
  /** Restores each new sampler from this snapshot before the first item (resuming from a checkpoint). */
  readonly restoreFrom?: SamplerSnapshot<T>;
  /**
   * An item the sampler rejects (e.g. weight ≤ 0) is passed here and still flows downstream unsampled; without
   * this option the error fails the stream.
   */
  readonly onRejected?: (error: unknown, item: T) => void;
}

/**
 * State lives inside the subscription, as in RxJS's own operators: `createSampler` runs once per subscribe, so
 * two subscriptions (two topologies, a retry) never share a reservoir.
 *
 * @example
 *   let reservoir: Sampler<Example> | undefined;
 *   examples$.pipe(sampleWith(() => createSampler(config, fieldAccessors(config), createRandom(config.seed)), {
 *     onSampler: (s) => (reservoir = s),
 *   }));
 */
export function sampleWith<T>(
  createSampler: () => Sampler<T>,
  options: SampleOperatorOptions<T> = {},
): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let sampler: Sampler<T>;
      try {
        sampler = createSampler();
        if (options.restoreFrom !== undefined) sampler.restore(options.restoreFrom);
        options.onSampler?.(sampler);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      return source.subscribe({
        next(item) {
          try {
            sampler.offer(item);
          } catch (error) {
            if (options.onRejected === undefined) {
              subscriber.error(error);
              return;
            }
            options.onRejected(error, item);
          }
          subscriber.next(item);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
