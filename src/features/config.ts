import { z } from 'zod';

/**
 * The `features` section of a topology: how tokens become a hashed sparse vector.
 *
 * Changing `bits`, `seed`, `signSeed` or `bigrams` changes every index, so a model snapshot records them
 * and refuses to load under other values.
 */
export const featuresConfigSchema = z
  .strictObject({
    /** Hash space of 2^bits buckets. 20 (about a million) keeps collisions rare for a vocabulary of ~100k. */
    bits: z.number().int().min(1).max(30).default(20),
    /** MurmurHash3 seed for the bucket index. */
    seed: z.number().int().min(0).max(0xffffffff).default(0),
    /**
     * MurmurHash3 seed for the sign (Weinberger et al. 2009, "Feature hashing for large scale multitask
     * learning"): a second, independent hash decides +1/-1 so that collisions cancel in expectation instead
     * of adding up. Must differ from `seed`, or sign and bucket would be correlated.
     */
    signSeed: z.number().int().min(0).max(0xffffffff).default(0x9747b28c),
    /** Turn the sign hash off (every value positive), e.g. for count-based models such as naive Bayes. */
    signed: z.boolean().default(true),
    /** Also hash adjacent token pairs, as the string `a + "\u0001" + b`. */
    bigrams: z.boolean().default(false),
    /** Weight from the count c of a hashed feature (bucket and sign) in the message: binary = 1, tf = c, logtf = 1 + ln(c). */
    weighting: z.enum(['binary', 'tf', 'logtf']).default('tf'),
    /** Scale the vector to unit Euclidean length, so long and short messages weigh the same in SGD. */
    l2: z.boolean().default(true),
  })
  .refine((c) => !c.signed || c.seed !== c.signSeed, {
    message: 'must differ from features.seed, or the sign would depend on the bucket',
    path: ['signSeed'],
  });

export type FeaturesConfig = z.output<typeof featuresConfigSchema>;
export type FeaturesConfigInput = z.input<typeof featuresConfigSchema>;
