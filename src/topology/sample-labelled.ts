/**
 * The sample stage of a topology: offers each labelled record, as an `Example` (features, label, token
 * count, time: only what replay needs, so the reservoir's memory stays fixed), to the sampler of its source
 * partition, and passes every record on. The per-partition states are created per subscription and handed
 * out through `onStates` for the learner's replay batches, the evaluator's per-partition totals and
 * checkpoints.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { toExample } from '../learn/train.js';
import { keyOfSource, type PartitionStates } from '../state/partition-state.js';
import type { FeaturedRecord } from './record.js';

export interface SampleLabelledOptions {
  /** The states to sample into (restored partitions already installed). */
  readonly createStates: () => PartitionStates;
  readonly onStates?: (states: PartitionStates) => void;
  /** An example the sampler refuses (e.g. weight 0 for an empty text with weighted sampling). */
  readonly onRejected?: (error: unknown, record: FeaturedRecord) => void;
}

export function sampleLabelled(options: SampleLabelledOptions): MonoTypeOperatorFunction<FeaturedRecord> {
  return (source) =>
    new Observable<FeaturedRecord>((subscriber) => {
      const states = options.createStates();
      options.onStates?.(states);
      return source.subscribe({
        next(record) {
          if (typeof record.label === 'string') {
            try {
              states.offer(keyOfSource(record.source), toExample(record, record.label));
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
