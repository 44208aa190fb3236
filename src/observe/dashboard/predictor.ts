/**
 * The "try it" box: tokenizes and hashes a text exactly as the topology does, and predicts with a
 * classifier restored from the latest snapshot record. It only ever predicts: the restored model is a
 * private copy that nothing calls `learn` on, so the live run's model is never touched.
 */
import { modelSnapshotFromRecord } from '../../codec/mapping.js';
import type { ModelSnapshotRecord } from '../../codec/records.js';
import { configError, ERROR_CODES, TokrsError } from '../../errors.js';
import { createFeaturizer, type Featurizer } from '../../features/featurizer.js';
import { toPrediction, type OnlineClassifier } from '../../learn/classifier.js';
import { createClassifier } from '../../learn/factory.js';
import { createTokenizer, type TextTokenizer } from '../../tokenize/create-tokenizer.js';
import { modelSpace } from '../../topology/pipeline.js';
import type { Topology } from '../../topology/spec.js';

export interface TryItResult {
  label: string | null;
  probabilities: Record<string, number>;
  /** The first tokens, so the page can show what the model saw. */
  tokens: string[];
  tokenCount: number;
  features: number;
  modelVersion: number;
  runId: string;
}

/** Longest text the box accepts (characters). */
export const MAX_TRY_TEXT = 5000;

export class Predictor {
  private tokenizer: TextTokenizer | undefined;
  private featurizer: Featurizer | undefined;
  private model: { key: string; classifier: OnlineClassifier } | undefined;

  constructor(private readonly topology: Topology) {}

  predict(text: string, snapshot: ModelSnapshotRecord | undefined): TryItResult {
    if (text.trim() === '') throw configError('the text is empty');
    if (text.length > MAX_TRY_TEXT) throw configError(`the text has ${text.length} characters; at most ${MAX_TRY_TEXT}`);
    if (snapshot === undefined) {
      throw new TokrsError(
        ERROR_CODES.SNAPSHOT,
        `no model snapshot of ${this.topology.name} yet: one is published every ${this.topology.outputs.snapshots?.everyMessages ?? 0} labelled messages`,
      );
    }
    // Built on first use: jieba loads its dictionaries, which takes a moment.
    this.tokenizer ??= createTokenizer(this.topology.tokenize);
    this.featurizer ??= createFeaturizer(this.topology.features);
    const classifier = this.classifierFor(snapshot);
    const tokenized = this.tokenizer.tokenize(text);
    const x = this.featurizer.featurize(tokenized.tokens);
    const prediction = toPrediction(classifier.labels, classifier.predictProba(x));
    return {
      label: prediction.label ?? null,
      probabilities: { ...prediction.probabilities },
      tokens: tokenized.tokens.slice(0, 50),
      tokenCount: tokenized.tokens.length,
      features: x.indices.length,
      modelVersion: snapshot.version,
      runId: snapshot.runId,
    };
  }

  private classifierFor(record: ModelSnapshotRecord): OnlineClassifier {
    const key = `${record.runId}:${record.version}:${record.createdAt}`;
    if (this.model?.key === key) return this.model.classifier;
    const classifier = createClassifier(this.topology.model, modelSpace(this.topology));
    classifier.restore(modelSnapshotFromRecord(record));
    this.model?.classifier.dispose();
    this.model = { key, classifier };
    return classifier;
  }

  dispose(): void {
    this.model?.classifier.dispose();
    this.model = undefined;
  }
}
