/**
 * Chi-square tests for samplers, shared by the sampler tests and the Kafka rebalance test (which checks a
 * reservoir merged from per-partition reservoirs). Pure functions, no test framework.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma (series below a + 1, Lentz CF above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(lead);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(lead) * h;
}

/** P(χ²_dof ≥ statistic). */
export function chiSquarePValue(statistic: number, dof: number): number {
  return gammaQ(dof / 2, statistic / 2);
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
}

/**
 * Pearson goodness of fit of `observed` counts (one outcome per trial) against outcome probabilities.
 * Expected counts should be ≥ 5 for the χ² approximation to hold.
 */
export function goodnessOfFit(observed: readonly number[], probabilities: readonly number[]): ChiSquareResult {
  if (observed.length !== probabilities.length) throw new Error('observed and probabilities differ in length');
  const trials = observed.reduce((s, x) => s + x, 0);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = trials * probabilities[i];
    statistic += ((observed[i] - e) * (observed[i] - e)) / e;
  }
  const dof = observed.length - 1;
  return { statistic, dof, pValue: chiSquarePValue(statistic, dof) };
}

/**
 * Are inclusion counts consistent with every one of n positions being in a k-sample with probability k/n?
 *
 * `counts[i]` is how many of `runs` independent samples contained position i. The counts are not a
 * multinomial: each run adds exactly k, without replacement. For simple random sampling the inclusion
 * indicators have covariance π(1-π)·n/(n-1)·(I - 11ᵀ/n) with π = k/n, so Pearson's statistic is
 * (1-π)·n/(n-1) times a χ²_{n-1}; dividing by that factor gives a statistic that is χ²_{n-1} under the
 * null hypothesis (and exactly the usual one when k = 1).
 */
export function inclusionChiSquare(counts: readonly number[], runs: number, k: number): ChiSquareResult {
  const n = counts.length;
  if (k >= n) throw new Error(`inclusion test needs k < n, got k ${k}, n ${n}`);
  const pi = k / n;
  const expected = runs * pi;
  let pearson = 0;
  for (const c of counts) pearson += ((c - expected) * (c - expected)) / expected;
  const statistic = (pearson * (n - 1)) / (n * (1 - pi));
  const dof = n - 1;
  return { statistic, dof, pValue: chiSquarePValue(statistic, dof) };
}
