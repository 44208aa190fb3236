/**
 * Parsers for numeric command-line flags. Each refuses what is not a number in its range with a config
 * error that names the flag, what it takes and what it got, instead of a NaN that would run forever
 * (`--idle-exit abc`) or surface later as another library's message (`--metrics-port 99999`).
 */
import { configError } from '../errors.js';

/** An integer from `min` to `max`. */
export function integerFlag(flag: string, min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw configError(`${flag} must be an integer ${range}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A TCP port; `allowAny` accepts 0, "any free port". */
export function portFlag(flag: string, allowAny: boolean): (value: string) => number {
  return integerFlag(flag, allowAny ? 0 : 1, 65535);
}

/** A finite number > 0 (a rate). */
export function positiveFlag(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw configError(`${flag} must be a number > 0, got ${JSON.stringify(value)}`);
    return n;
  };
}
