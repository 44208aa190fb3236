import { configError } from '../errors.js';

/**
 * Optimizer settings, injected into a learner (River: `LogisticRegression(optimizer=optim.SGD(.1))`).
 * They are plain data, so they go into snapshots and topology files as they are; the per-coordinate update
 * rules live in the learner's inner loop, where a call per weight would cost more than the update itself.
 */
export type Optimizer = SgdOptimizer | AdaGradOptimizer | FtrlOptimizer;

export interface SgdOptimizer {
  readonly type: 'sgd';
  /** Initial learning rate eta0. */
  readonly lr: number;
  /** `constant`: eta = lr. `invscaling`: eta_t = lr / (t + 1)^power (scikit-learn's schedule), t = updates so far. */
  readonly schedule: 'constant' | 'invscaling';
  readonly power: number;
}

/** AdaGrad, Duchi, Hazan & Singer 2011: eta_i = lr / (sqrt(sum of g_i^2) + eps), per coordinate. */
export interface AdaGradOptimizer {
  readonly type: 'adagrad';
  readonly lr: number;
  readonly eps: number;
}

/**
 * FTRL-Proximal, McMahan et al. 2013 ("Ad Click Prediction: a View from the Trenches", Algorithm 1):
 * per-coordinate z and n, weights computed in closed form from them, L1/L2 applied exactly (no lazy pass).
 */
export interface FtrlOptimizer {
  readonly type: 'ftrl';
  readonly alpha: number;
  readonly beta: number;
}

/**
 * FTRL-Proximal's weight from a coordinate's z and n (McMahan et al. 2013, Algorithm 1): 0 within the L1
 * band, else the closed-form minimiser. Biases use it with l1 = l2 = 0. The one definition the learner and
 * model averaging share.
 */
export function ftrlWeight(o: FtrlOptimizer, z: number, n: number, l1: number, l2: number): number {
  return z <= l1 && z >= -l1 ? 0 : -(z - (z > 0 ? l1 : -l1)) / ((o.beta + Math.sqrt(n)) / o.alpha + l2);
}

export function sgd(options: Partial<Omit<SgdOptimizer, 'type'>> = {}): SgdOptimizer {
  return checkOptimizer({ type: 'sgd', lr: options.lr ?? 0.1, schedule: options.schedule ?? 'constant', power: options.power ?? 0.5 });
}

export function adagrad(options: Partial<Omit<AdaGradOptimizer, 'type'>> = {}): AdaGradOptimizer {
  return checkOptimizer({ type: 'adagrad', lr: options.lr ?? 0.1, eps: options.eps ?? 1e-8 });
}

export function ftrl(options: Partial<Omit<FtrlOptimizer, 'type'>> = {}): FtrlOptimizer {
  return checkOptimizer({ type: 'ftrl', alpha: options.alpha ?? 0.1, beta: options.beta ?? 1 });
}

const positive = (name: string, v: unknown): void => {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw configError(`model.optimizer.${name} must be a finite number > 0, got ${String(v)}`);
};

export function checkOptimizer<O extends Optimizer>(o: O): O {
  switch (o.type) {
    case 'sgd':
      positive('lr', o.lr);
      if (o.schedule !== 'constant' && o.schedule !== 'invscaling') {
        throw configError(`model.optimizer.schedule must be 'constant' or 'invscaling', got ${String(o.schedule)}`);
      }
      if (!(o.power >= 0) || !Number.isFinite(o.power)) throw configError(`model.optimizer.power must be >= 0, got ${String(o.power)}`);
      return o;
    case 'adagrad':
      positive('lr', o.lr);
      positive('eps', o.eps);
      return o;
    case 'ftrl':
      positive('alpha', o.alpha);
      if (!(o.beta >= 0) || !Number.isFinite(o.beta)) throw configError(`model.optimizer.beta must be >= 0, got ${String(o.beta)}`);
      return o;
    default:
      throw configError(`model.optimizer.type must be sgd, adagrad or ftrl, got ${String((o as { type: unknown }).type)}`);
  }
}

/** SGD learning rate for the update numbered t (0-based). */
export function sgdRate(o: SgdOptimizer, t: number): number {
  return o.schedule === 'constant' ? o.lr : o.lr / Math.pow(t + 1, o.power);
}

/** Below this x, four terms of log1p(-x)'s series are within a fraction of an ulp (the next is x^5 / 5). */
const SMALL_X = 2 ** -13;
/** Below this |y|, six terms of exp(y)'s series are within a fraction of an ulp (the next is y^6 / 720). */
const SMALL_Y = 2 ** -10;

/**
 * (1 - x)^n, the L2 decay of n missed AdaGrad steps, which a prediction pays for every active weight; 0 when
 * x >= 1 (the eager update would have zeroed the weight). As exp(n · log1p(-x)) (`Math.pow` measured ~48 ns
 * here, exp + log1p ~13 ns), and for the usual tiny x (learning rate × L2, ~1e-7) and short gaps with
 * their series instead, which call no transcendental function: both truncations are below a tenth of an ulp,
 * so the result stays within a few ulps of the exact value.
 */
export function decayOver(x: number, n: number): number {
  if (x >= 1) return 0;
  const log = x < SMALL_X ? -x * (1 + x * (1 / 2 + x * (1 / 3 + x / 4))) : Math.log1p(-x);
  const y = n * log;
  if (y > -SMALL_Y) return 1 + y * (1 + y * (1 / 2 + y * (1 / 6 + y * (1 / 24 + y / 120))));
  return Math.exp(y);
}
