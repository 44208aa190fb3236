import type { Tokenizer } from './tokenizer.js';

const SPACE = /\s+/u;

/**
 * Character n-grams of every length 1..n over code points, within runs of non-space characters (an n-gram
 * across a space says nothing the two runs do not). Needs no dictionary, so it works for Chinese slang,
 * typos and names that jieba does not know.
 *
 * @example
 * createCharsTokenizer(2).tokenize('好吃') // ['好', '吃', '好吃']
 */
export function createCharsTokenizer(n: number): Tokenizer {
  const tokenize = (text: string): string[] => {
    const tokens: string[] = [];
    for (const run of text.split(SPACE)) {
      if (run.length === 0) continue;
      const chars = Array.from(run);
      for (let size = 1; size <= n; size++) {
        for (let i = 0; i + size <= chars.length; i++) {
          tokens.push(size === 1 ? chars[i] : chars.slice(i, i + size).join(''));
        }
      }
    }
    return tokens;
  };
  return { name: `chars/${n}`, tokenize, countTokens: (text) => tokenize(text).length };
}
