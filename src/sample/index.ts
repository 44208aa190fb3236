/** The sample stage: pure samplers, their config and factory (the RxJS operator is in sample-operator.ts). */
export * from './random.js';
export type { Sampler, SamplerSnapshot } from './sampler.js';
export { UniformReservoir, ReservoirR, merge } from './uniform.js';
export { WeightedReservoir } from './weighted.js';
export { StratifiedReservoir, type StratifiedOptions } from './stratified.js';
export { TimeBiasedReservoir, SlidingWindowReservoir, type TimeBiasedOptions, type SlidingWindowOptions } from './recent.js';
export { BernoulliSampler, SystematicSampler } from './simple.js';
export * from './config.js';
