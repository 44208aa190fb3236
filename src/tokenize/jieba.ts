import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { configError } from '../errors.js';
import type { JiebaConfig } from './config.js';
import type { Tokenizer } from './tokenizer.js';

const require = createRequire(import.meta.url);

/**
 * nodejieba keeps one dictionary per process (the native addon is a singleton), so the first jieba
 * tokenizer decides the user dictionary; asking for another one later is a configuration error rather
 * than a silent reload that would change the segmentation of a running topology.
 */
let nodejiebaUserDict: string | null | undefined;

type NodeJieba = typeof import('nodejieba');

function loadNodejieba(userDict: string | undefined): NodeJieba {
  const nodejieba = require('nodejieba') as NodeJieba & { DEFAULT_USER_DICT: string };
  const wanted = userDict ?? null;
  if (nodejiebaUserDict === undefined) {
    // cppjieba reads several user dictionaries separated by "|": keep its default one and add ours.
    nodejieba.load(userDict === undefined ? {} : { userDict: `${nodejieba.DEFAULT_USER_DICT}|${userDict}` });
    nodejiebaUserDict = wanted;
  } else if (nodejiebaUserDict !== wanted) {
    throw configError(
      `tokenize.jieba.userDict: nodejieba has one dictionary per process and already loaded ` +
        `${nodejiebaUserDict ?? 'the default one'}; use the same userDict everywhere or engine "node-rs"`,
    );
  }
  return nodejieba;
}

function readUserDict(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw configError(`tokenize.jieba.userDict: cannot read ${path} (${(error as Error).message})`);
  }
}

const isAsciiAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * nodejieba's `cut` without HMM splits Latin words and numbers into single characters ("iphone" → i,p,h,…),
 * where Python jieba and jieba-rs keep `[A-Za-z0-9]+` together. Joining the runs back restores the
 * reference behaviour, so both engines agree on mixed text.
 */
export function joinAsciiRuns(tokens: string[]): string[] {
  // Most texts have no run to join: then the array comes back as is, without a copy.
  let out: string[] | undefined;
  let previousAscii = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const ascii = token.length === 1 && isAsciiAlnum(token.charCodeAt(0));
    if (ascii && previousAscii) {
      out ??= tokens.slice(0, i);
      out[out.length - 1] += token;
    } else if (out !== undefined) out.push(token);
    previousAscii = ascii;
  }
  return out ?? tokens;
}

/** Chinese word segmentation with jieba; see `JiebaConfig` for engines and modes. */
export function createJiebaTokenizer(config: JiebaConfig): Tokenizer {
  const { engine, mode, hmm } = config;
  let cut: (text: string) => string[];
  if (engine === 'nodejieba') {
    const nj = loadNodejieba(config.userDict);
    const fix = !hmm && mode !== 'hmm' ? joinAsciiRuns : (t: string[]) => t;
    if (mode === 'mix') cut = (text) => fix(nj.cut(text, hmm));
    else if (mode === 'search') cut = (text) => fix(nj.cutForSearch(text, hmm));
    else if (mode === 'full') cut = (text) => nj.cutAll(text);
    else cut = (text) => nj.cutHMM(text);
  } else {
    if (mode === 'hmm') throw configError('tokenize.jieba.mode: "hmm" (HMM only) exists only with engine "nodejieba"');
    const { Jieba } = require('@node-rs/jieba') as typeof import('@node-rs/jieba');
    const { dict } = require('@node-rs/jieba/dict') as { dict: Uint8Array }; // its dict.d.ts is not in the package's exports
    const jieba = Jieba.withDict(dict);
    if (config.userDict !== undefined) jieba.loadDict(readUserDict(config.userDict));
    if (mode === 'mix') cut = (text) => jieba.cut(text, hmm);
    else if (mode === 'search') cut = (text) => jieba.cutForSearch(text, hmm);
    else cut = (text) => jieba.cutAll(text);
  }
  return {
    name: `jieba/${engine}/${mode}${hmm ? '+hmm' : ''}`,
    tokenize: cut,
    countTokens: (text) => cut(text).length,
  };
}
