import { createRequire } from 'node:module';
import type { NormalizeConfig } from './config.js';

// Control characters (C0, DEL, C1) and invisible format characters (zero-width space/joiners, BOM) carry no
// words but would glue or split tokens differently per tokenizer, so they become one plain space.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]/g;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const FULLWIDTH = /[\uff01-\uff5e\u3000]/g;
// eslint-disable-next-line no-control-regex -- the ASCII range starts at U+0000
const NON_ASCII = /[^\u0000-\u007f]/;

const toHalfwidth = (c: string): string => (c === '\u3000' ? ' ' : String.fromCharCode(c.charCodeAt(0) - 0xfee0));

/**
 * Cuts `text` to at most `maxLength` UTF-16 code units without splitting a surrogate pair.
 *
 * @example
 * truncate('ab😀', 3) // { text: 'ab', truncated: true }
 */
export function truncate(text: string, maxLength: number): { text: string; truncated: boolean } {
  if (text.length <= maxLength) return { text, truncated: false };
  let end = maxLength;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // the pair's second half is beyond the cut
  return { text: text.slice(0, end), truncated: true };
}

/**
 * Builds the text normaliser for a `normalize` config. Always: lone surrogates → U+FFFD, control and
 * zero-width characters → space. Then, as configured: full-width → half-width, NFKC, lower case,
 * traditional → simplified.
 *
 * @example
 * createNormalizer({ nfkc: true, fullwidth: true, lowercase: true, traditionalToSimplified: false })('ＡＢＣ！\u0007x')
 * // 'abc! x'
 */
export function createNormalizer(config: NormalizeConfig): (text: string) => string {
  const t2s = config.traditionalToSimplified ? loadOpenccT2s() : undefined;
  return (input: string): string => {
    let text = input.replace(CONTROL, ' ');
    if (NON_ASCII.test(text)) {
      text = text.replace(LONE_SURROGATE, '\ufffd');
      if (config.fullwidth) text = text.replace(FULLWIDTH, toHalfwidth);
      if (config.nfkc) text = text.normalize('NFKC');
      if (t2s !== undefined) text = t2s(text);
    }
    if (config.lowercase) text = text.toLowerCase();
    return text;
  };
}

/** opencc-js loads its dictionaries on import (~MBs), so only topologies that ask for it pay for it. */
function loadOpenccT2s(): (text: string) => string {
  const require = createRequire(import.meta.url);
  const opencc = require('opencc-js') as typeof import('opencc-js');
  return opencc.Converter({ from: 'tw', to: 'cn' });
}
