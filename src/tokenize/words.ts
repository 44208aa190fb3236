import type { Tokenizer } from './tokenizer.js';

/**
 * Longest piece handed to `Intl.Segmenter` at once. Its cost grows faster than linearly with the length of
 * the string it segments (locale "zh", Node 20: 48k characters 0.5 s, 96k characters 11.7 s; found by
 * test/fuzz/tokenizers), so long texts are segmented in pieces cut at whitespace, which no word crosses.
 */
const CHUNK = 2048;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x3000 || c === 0xa0;

/** Pieces of `text` of at most CHUNK code units, cut after a whitespace when there is one, never inside a surrogate pair. */
function* chunks(text: string): Generator<string> {
  let start = 0;
  while (text.length - start > CHUNK) {
    let end = start + CHUNK;
    let cut = end;
    while (cut > start + CHUNK / 2 && !isSpace(text.charCodeAt(cut - 1))) cut--;
    if (cut > start + CHUNK / 2) end = cut;
    else if (text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) <= 0xdbff) end--;
    yield text.slice(start, end);
    start = end;
  }
  yield start === 0 ? text : text.slice(start);
}

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
    for (const piece of chunks(text)) for (const s of segmenter.segment(piece)) if (s.isWordLike === true) tokens.push(s.segment);
    return tokens;
  };
  return { name: `words/${locale}`, tokenize, countTokens: (text) => tokenize(text).length };
}
