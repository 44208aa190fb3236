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

// What the fast path does with a code unit; see createNormalizer.
const UNKNOWN = 0;
const KEEP = 1;
const REPLACE = 2;
const HIGH = 3;
const SLOW = 4;

/**
 * Characters whose normal form depends on their neighbours, so a text holding one (or one whose NFKC form
 * holds one) cannot be normalised character by character: combining marks (canonical reordering, and
 * NFKC composes them with the preceding letter; the Unicode "Maybe" characters are marks or Hangul
 * jamo), Hangul jamo (L+V+T compose into a syllable; NFKC turns compatibility jamo into them) and capital
 * sigma (lower-cased to ς or σ depending on the letters around it). test/tokenize/normalize.test.ts checks
 * against this runtime's ICU that every BMP character outside this set neither reorders nor composes.
 * Exported for that test.
 */
export const NOT_LOCAL = /[\p{M}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u03a3]/u;

/**
 * Builds the text normaliser for a `normalize` config. Always: lone surrogates → U+FFFD, control and
 * zero-width characters → space. Then, as configured: full-width → half-width, NFKC, lower case,
 * traditional → simplified.
 *
 * Gives exactly what `createReferenceNormalizer` gives, faster: one scan over the code units with a
 * per-character table, so a text with nothing to change is returned as is, and one whose characters each
 * normalise on their own (full-width punctuation, ASCII capitals, controls, "…") is rebuilt from the
 * table's replacements. Any other text (combining marks, jamo, lone surrogates, rare astral characters)
 * goes through the reference passes.
 *
 * @example
 * createNormalizer({ nfkc: true, fullwidth: true, lowercase: true, traditionalToSimplified: false })('ＡＢＣ！\u0007x')
 * // 'abc! x'
 */
export function createNormalizer(config: NormalizeConfig): (text: string) => string {
  const reference = createReferenceNormalizer(config);
  // opencc converts phrases, not characters, so no per-character table can stand for it; its cost dwarfs
  // the regex passes anyway.
  if (config.traditionalToSimplified) return reference;

  // What one code unit becomes, filled lazily from the reference normaliser itself so that the table can
  // never disagree with it: UNKNOWN until first seen, then KEEP, REPLACE (by replacement[c]) or SLOW.
  const kind = new Uint8Array(0x10000);
  const replacement: string[] = [];
  const astral = new Map<number, string | null>(); // code point → replacement (itself when kept), null: slow
  const local = (ch: string): boolean => !NOT_LOCAL.test(ch) && !NOT_LOCAL.test(ch.normalize('NFKC'));

  const classify = (c: number): number => {
    let k: number;
    if (c >= 0xd800 && c <= 0xdbff) k = HIGH;
    else if (c >= 0xdc00 && c <= 0xdfff) k = SLOW; // a low surrogate not after a high one is lone
    else {
      const ch = String.fromCharCode(c);
      const out = reference(ch);
      k = !local(ch) ? SLOW : out === ch ? KEEP : REPLACE;
      if (k === REPLACE) replacement[c] = out;
    }
    kind[c] = k;
    return k;
  };
  // Astral characters are trusted only in the emoji/symbol planes and the CJK extensions: elsewhere a newer
  // Unicode's marks can slip past NOT_LOCAL (Node 20's ICU composes Kirat Rai U+16D63 + U+16D67, while its
  // regex engine does not call U+16D67 a mark).
  const classifyAstral = (cp: number): string | null => {
    const ch = String.fromCodePoint(cp);
    const out = ((cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3ffff)) && local(ch) ? reference(ch) : null;
    astral.set(cp, out);
    return out;
  };

  return (text: string): string => {
    let out = ''; // the normalised text[0..last), once something has changed
    let last = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let k = kind[c];
      if (k === KEEP) continue;
      if (k === UNKNOWN) k = classify(c);
      if (k === REPLACE) {
        out += text.slice(last, i) + replacement[c];
        last = i + 1;
      } else if (k === HIGH) {
        const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (d < 0xdc00 || d > 0xdfff) return reference(text); // lone high surrogate
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        let r = astral.get(cp);
        if (r === undefined) r = classifyAstral(cp);
        if (r === null) return reference(text);
        if (r.length !== 2 || r.charCodeAt(0) !== c || r.charCodeAt(1) !== d) {
          out += text.slice(last, i) + r;
          last = i + 2;
        }
        i++;
      } else if (k === SLOW) return reference(text);
    }
    return last === 0 ? text : out + text.slice(last);
  };
}

/**
 * The definition of normalisation, one regex pass per step; `createNormalizer` must give the same result.
 * Kept for texts the fast path cannot handle and as the reference in tests.
 */
export function createReferenceNormalizer(config: NormalizeConfig): (text: string) => string {
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
