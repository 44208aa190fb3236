import { configError } from '../errors.js';
import type { HashSettings, OnlineClassifier } from './classifier.js';
import { type ModelConfig, type ModelConfigInput, parseModelConfig, TFJS_MAX_DIM } from './config.js';
import { SoftmaxSgd } from './softmax-sgd.js';
import { TfjsClassifier } from './tfjs-classifier.js';

/**
 * Builds the classifier a `model` section describes, for the hashed space of the `features` section.
 * For `tfjs`, call `await ensureTfjsBackend()` first.
 *
 * ```ts
 * const model = createClassifier({}, { dim: 2 ** 20, hashing: { bits: 20, seed: 0 } }); // SoftmaxSgd
 * ```
 */
export function createClassifier(input: ModelConfigInput | ModelConfig, space: { dim: number; hashing?: HashSettings }): OnlineClassifier {
  const c = parseModelConfig(input);
  if (c.type === 'tfjs') {
    if (space.dim > TFJS_MAX_DIM) throw configError(`model.type tfjs needs features.bits <= 14 (dim ${space.dim} > ${TFJS_MAX_DIM})`);
    return new TfjsClassifier({ dim: space.dim, hashing: space.hashing, hidden: c.tfjs.hidden, lr: c.tfjs.lr, seed: c.tfjs.seed, maxClasses: c.maxClasses });
  }
  return new SoftmaxSgd({
    dim: space.dim,
    hashing: space.hashing,
    optimizer: c.optimizer,
    l1: c.l1,
    l2: c.l2,
    classWeights: c.classWeights,
    intercept: c.intercept,
    maxClasses: c.maxClasses,
  });
}
