import type { Tokenizer } from './tokenizer.js';

/**
 * Unicode word segmentation (UAX #29 via `Intl.Segmenter`), keeping word-like segments: good for Latin and
 * mixed text; for Chinese, ICU's dictionary gives words too, but jieba is better tuned for reviews.
 *
 * @example
 * createWordsTokenizer('und').tokenize("don't stop, 2 times") // ["don't", 'stop', '2', 'times']
 */
export function createWordsTokenizer(locale: string): Tokenizer {
  const segmenter = new Intl.Segmenter(locale, { granularity: 'word' });
  const tokenize = (text: string): string[] => {
    const tokens: string[] = [];
    for (const s of segmenter.segment(text)) if (s.isWordLike === true) tokens.push(s.segment);
    return tokens;
  };
  return { name: `words/${locale}`, tokenize, countTokens: (text) => tokenize(text).length };
}
