import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { configError } from '../errors.js';
import type { JiebaConfig } from './config.js';
import { createNativeJieba, nativeJiebaStatus, type JiebaDictionaries, type NativeJieba } from './native-jieba.js';
import type { Tokenizer } from './tokenizer.js';

const require = createRequire(import.meta.url);

/**
 * nodejieba's binding and tokrs's addon each keep one cppjieba dictionary per thread, so the first jieba
 * tokenizer of a thread decides the user dictionary; asking for another one later is a configuration error
 * rather than a silent reload that would change the segmentation of a running topology.
 */
let nodejiebaUserDict: string | null | undefined;

type NodeJieba = typeof import('nodejieba') & {
  DEFAULT_DICT: string;
  DEFAULT_HMM_DICT: string;
  DEFAULT_USER_DICT: string;
  DEFAULT_IDF_DICT: string;
  DEFAULT_STOP_WORD_DICT: string;
};

/** Claims the thread's cppjieba dictionary for `userDict`, or refuses a second, different one. */
function claimDictionary(userDict: string | undefined): void {
  const wanted = userDict ?? null;
  if (nodejiebaUserDict === undefined) nodejiebaUserDict = wanted;
  else if (nodejiebaUserDict !== wanted) {
    throw configError(
      `tokenize.jieba.userDict: nodejieba has one dictionary per thread and already loaded ` +
        `${nodejiebaUserDict ?? 'the default one'}; use the same userDict everywhere or engine "node-rs"`,
    );
  }
}

/**
 * nodejieba's dictionary files, with the user dictionary added after its default one (cppjieba reads
 * several separated by "|"). Requiring nodejieba's index loads no binary: it does that on first use.
 */
function nodejiebaDictionaries(userDict: string | undefined): JiebaDictionaries {
  const nj = require('nodejieba') as NodeJieba;
  // cppjieba aborts the whole process on a dictionary it cannot open: check ours first. It also splits its
  // user dictionary paths at "|" and ";", so a path holding one would name files that do not exist.
  if (userDict !== undefined) {
    if (/[|;]/.test(userDict)) throw configError(`tokenize.jieba.userDict: nodejieba cannot read a path with "|" or ";" (${userDict}); rename the file`);
    readUserDict(userDict);
  }
  return {
    dict: nj.DEFAULT_DICT,
    hmmModel: nj.DEFAULT_HMM_DICT,
    userDict: userDict === undefined ? nj.DEFAULT_USER_DICT : `${nj.DEFAULT_USER_DICT}|${userDict}`,
    idf: nj.DEFAULT_IDF_DICT,
    stopWords: nj.DEFAULT_STOP_WORD_DICT,
  };
}

let nodejiebaLoaded = false;

/** nodejieba's own binding: where tokrs's addon was not built. */
function loadNodejieba(d: JiebaDictionaries): NodeJieba {
  const nj = require('nodejieba') as NodeJieba;
  if (!nodejiebaLoaded) {
    nj.load({ dict: d.dict, hmmDict: d.hmmModel, userDict: d.userDict, idfDict: d.idf, stopWordDict: d.stopWords });
    nodejiebaLoaded = true;
  }
  return nj;
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

/**
 * Chinese word segmentation with jieba; see `JiebaConfig` for engines and modes. The nodejieba engine runs
 * cppjieba through tokrs's addon (native-jieba.ts) when it is built, which also gives the tokenize stage
 * its one-call path (`native`), and through nodejieba's own binding otherwise; both segment alike.
 */
export function createJiebaTokenizer(config: JiebaConfig): Tokenizer {
  const { engine, mode, hmm } = config;
  let cut: (text: string) => string[];
  let native: NativeJieba | undefined;
  if (engine === 'nodejieba') {
    const dictionaries = nodejiebaDictionaries(config.userDict);
    claimDictionary(config.userDict);
    // nodejieba splits ASCII runs in cut and cutForSearch without HMM; cutAll and cutHMM keep them as they come.
    const join = !hmm && (mode === 'mix' || mode === 'search');
    native = config.binding === 'nodejieba' ? undefined : createNativeJieba(dictionaries, mode, hmm, join);
    if (native === undefined && config.binding === 'addon') {
      throw configError(`tokenize.jieba.binding: "addon", but tokrs's jieba addon is not built (${nativeJiebaStatus().error}); run npm install (it compiles native/jieba), or use "auto" or "nodejieba"`);
    }
    if (native !== undefined) cut = native.segment;
    else {
      const nj = loadNodejieba(dictionaries);
      const fix = join ? joinAsciiRuns : (t: string[]) => t;
      if (mode === 'mix') cut = (text) => fix(nj.cut(text, hmm));
      else if (mode === 'search') cut = (text) => fix(nj.cutForSearch(text, hmm));
      else if (mode === 'full') cut = (text) => nj.cutAll(text);
      else cut = (text) => nj.cutHMM(text);
    }
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
    name: `jieba/${engine}${native !== undefined ? '+addon' : ''}/${mode}${hmm ? '+hmm' : ''}`,
    tokenize: cut,
    countTokens: (text) => cut(text).length,
    ...(native !== undefined ? { native } : {}),
  };
}
