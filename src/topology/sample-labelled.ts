/**
 * The sample stage of a topology: offers each labelled record, as an `Example` (features, label, token
 * count, time: only what replay needs, so the reservoir's memory stays fixed), to the topology's sampler,
 * and passes every record on. The sampler is created per subscription and handed out through `onSampler`
 * for the learner's replay batches and for checkpoints.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { toExample } from '../learn/train.js';
import type { Sampler, SamplerSnapshot } from '../sample/sampler.js';
import type { Example, FeaturedRecord } from './record.js';

export interface SampleLabelledOptions {
  readonly createSampler: () => Sampler<Example>;
  readonly onSampler?: (sampler: Sampler<Example>) => void;
  readonly restoreFrom?: SamplerSnapshot<Example>;
  /** An example the sampler refuses (e.g. weight 0 for an empty text with weighted sampling). */
  readonly onRejected?: (error: unknown, record: FeaturedRecord) => void;
}

export function sampleLabelled(options: SampleLabelledOptions): MonoTypeOperatorFunction<FeaturedRecord> {
  return (source) =>
    new Observable<FeaturedRecord>((subscriber) => {
      const sampler = options.createSampler();
      if (options.restoreFrom !== undefined) sampler.restore(options.restoreFrom);
      options.onSampler?.(sampler);
      return source.subscribe({
        next(record) {
          if (typeof record.label === 'string') {
            try {
              sampler.offer(toExample(record, record.label));
            } catch (error) {
              // Not sampled, but still learned from and scored: the sample is a view of the stream, not a gate.
              options.onRejected?.(error, record);
            }
          }
          subscriber.next(record);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
