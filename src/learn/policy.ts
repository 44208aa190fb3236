import type { Sampler } from '../sample/sampler.js';
import type { Example } from '../topology/record.js';
import type { OnlineClassifier } from './classifier.js';
import type { TrainConfig } from './config.js';

/**
 * The training policy without RxJS: what the model learns from after each labelled message. Replays draw
 * `replayBatch` examples uniformly with replacement from the reservoir (`Sampler.drawBatch`), which keeps
 * old but representative examples in play; an empty or absent reservoir simply skips the replay.
 */
export class TrainingPolicy {
  labelled = 0;
  learned = 0;
  replayed = 0;
  replays = 0;

  constructor(
    readonly config: TrainConfig,
    private readonly reservoir: () => Sampler<Example> | undefined,
  ) {}

  /** Learns from one labelled example according to the policy. Throws what the classifier throws. */
  onLabelled(model: OnlineClassifier, example: Example): void {
    const { learnOn, replayEvery, replayBatch } = this.config;
    if (learnOn !== 'reservoir') {
      model.learn(example.features, example.label);
      this.learned++;
    }
    this.labelled++;
    if (learnOn !== 'stream' && this.labelled % replayEvery === 0) {
      const batch = this.reservoir()?.drawBatch(replayBatch) ?? [];
      if (batch.length > 0) {
        model.learnMany(batch);
        this.learned += batch.length;
        this.replayed += batch.length;
        this.replays++;
      }
    }
  }

  counts(model: OnlineClassifier): { learned: number; replayed: number; replays: number; classes: number } {
    return { learned: this.learned, replayed: this.replayed, replays: this.replays, classes: model.labels.length };
  }
}
