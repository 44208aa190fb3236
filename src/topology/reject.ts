import type { TokrsError } from '../errors.js';

/**
 * How a stage hands over a message it cannot process: the runtime sends it to the dead-letter topic with
 * the error's code and message, counts it, and the pipeline goes on. Stages never throw for one bad
 * message. The `input` is whatever the stage was given (a record, raw bytes), kept for the dead letter.
 */
export type Reject = (input: unknown, error: TokrsError) => void;
