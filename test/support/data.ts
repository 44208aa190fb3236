/** The shared development data (../shared/data), read in place: it must never be copied into the repo. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WAIMAI = fileURLToPath(new URL('../../../shared/data/waimai_10k.jsonl', import.meta.url));
export const WAIMAI_SHUFFLED = fileURLToPath(
  new URL('../../../shared/data/waimai_10k.shuffled_seed20240601.jsonl', import.meta.url),
);

export interface Review {
  text: string;
  label: string;
}

export function readReviews(file = WAIMAI_SHUFFLED, limit = Infinity): Review[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .slice(0, limit)
    .map((line) => JSON.parse(line) as Review);
}
