import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where tokrs keeps downloads and local broker data: `TOKRS_CACHE_DIR`, else the user's cache dir. */
export function cacheDir(): string {
  const explicit = process.env.TOKRS_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'tokrs');
}

/** The data folder `tokrs kafka up` uses when none is given. */
export function defaultBrokerDataDir(): string {
  return join(cacheDir(), 'broker');
}
