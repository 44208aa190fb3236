import { ERROR_CODES, TokrsError } from '../errors.js';

/**
 * The random source every sampler and learner takes as an argument (never reached for from inside), so
 * that runs are reproducible from a seed and a restored component continues exactly where it stopped.
 */
export interface Random {
  /** A uniform float in [0, 1). */
  next(): number;
  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** The whole generator state, enough for `restore` to continue the same sequence. */
  snapshot(): RandomState;
  restore(state: RandomState): void;
}

export interface RandomState {
  readonly algorithm: string;
  readonly state: readonly number[];
}

/** What a seed may be: a finite integer or any string (a topology name, a partition id). */
export type Seed = number | string;

const XOSHIRO = 'xoshiro128**';

/**
 * xoshiro128** (Blackman & Vigna 2018): 128 bits of state, period 2^128 - 1, passes BigCrush, and needs only
 * 32-bit integer operations, which JavaScript does natively with `Math.imul` and `>>>`.
 *
 * @example
 *   const a = createRandom(7), b = createRandom(7);
 *   a.next() === b.next(); // true: same seed, same sequence
 */
export class Xoshiro128 implements Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed: Seed) {
    this.seed(seed);
  }

  /**
   * Seeds through splitmix32, as Vigna recommends: nearby seeds (0, 1, 2…) must not give correlated
   * streams, and the all-zero state (a fixed point of xoshiro) must be unreachable.
   */
  seed(seed: Seed): void {
    const [lo, hi] = seedToUint32Pair(seed);
    // 64 seed bits fold into splitmix32's 32-bit counter; a collision needs two seeds chosen to collide.
    let a = lo ^ Math.imul(hi, 0x2545f491);
    const mix = (): number => {
      a = (a + 0x9e3779b9) | 0;
      let z = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** 53 random bits, so `floor(next() * n)` stays unbiased (to 2^-53) for stream counts beyond 2^32. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  snapshot(): RandomState {
    return { algorithm: XOSHIRO, state: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  restore(state: RandomState): void {
    const s = state?.state;
    if (state?.algorithm !== XOSHIRO || !Array.isArray(s) || s.length !== 4) {
      throw new TokrsError(
        ERROR_CODES.SNAPSHOT,
        `random state must be ${XOSHIRO} with 4 words, got ${String(state?.algorithm)} with ${Array.isArray(s) ? s.length : 'no'} words`,
      );
    }
    if (!s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) || s.every((w) => w === 0)) {
      throw new TokrsError(ERROR_CODES.SNAPSHOT, `random state words must be unsigned 32-bit integers, not all zero`);
    }
    [this.s0, this.s1, this.s2, this.s3] = s.map((w) => w | 0);
  }
}

/** A seeded generator; the only way samplers should get randomness in production and tests alike. */
export function createRandom(seed: Seed): Random {
  return new Xoshiro128(seed);
}

function seedToUint32Pair(seed: Seed): [number, number] {
  if (typeof seed === 'string') {
    // FNV-1a over UTF-16 code units, twice with different offsets, so long strings keep 64 bits of identity.
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ seed.length;
    for (let i = 0; i < seed.length; i++) {
      const c = seed.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    return [a | 0, b | 0];
  }
  if (!Number.isSafeInteger(seed)) {
    throw new TokrsError(ERROR_CODES.CONFIG, `sample.seed must be an integer or a string, got ${String(seed)}`);
  }
  const lo = Number(BigInt.asUintN(32, BigInt(seed)));
  const hi = Number(BigInt.asIntN(32, BigInt(seed) >> 32n));
  return [lo | 0, hi | 0];
}

/** A uniform integer in [0, n). */
export function randomBelow(random: Random, n: number): number {
  return Math.floor(random.next() * n);
}

/** A uniform float in (0, 1]: safe to take the logarithm of. */
export function randomOpen(random: Random): number {
  return 1 - random.next();
}

/** A standard normal deviate (Box–Muller); uses no cached spare, so all state stays in `random`. */
export function randomNormal(random: Random): number {
  return Math.sqrt(-2 * Math.log(randomOpen(random))) * Math.cos(2 * Math.PI * random.next());
}

/** A Gamma(shape, 1) deviate for shape ≥ 1 (Marsaglia & Tsang 2000: squeeze then log test, ~1.03 tries). */
export function randomGamma(random: Random, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = randomNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = randomOpen(random);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) deviate for a, b ≥ 1, as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function randomBeta(random: Random, a: number, b: number): number {
  const x = randomGamma(random, a);
  const y = randomGamma(random, b);
  return x / (x + y);
}
