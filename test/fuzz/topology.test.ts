/**
 * Fuzzing the topology validator: random YAML/JSON documents, mutations of the shipped topologies (values
 * replaced by values of other types, keys dropped or misspelt, text-level byte edits), and YAML's sharp
 * edges (aliases, self-references, tags). parseTopology returns a Topology or throws TOKRS_ERR_TOPOLOGY.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse as parseYamlLoose, stringify } from 'yaml';
import { ERROR_CODES } from '../../src/errors.js';
import { parseTopology } from '../../src/topology/load.js';
import { runs, typedOrOk } from './support.js';

const dir = new URL('../../topologies/', import.meta.url).pathname;
const shipped = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') }));
const docs = shipped.map((s) => parseTopology(s.text, s.file)); // they must be valid to start with

const TOPOLOGY = [ERROR_CODES.TOPOLOGY];
const parse = (text: string): string | undefined => typedOrOk(() => parseTopology(text, 'fuzz.yaml'), 2_000, TOPOLOGY);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** All paths to values in a JSON document. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function setAt(doc: Json, path: (string | number)[], f: (old: Json, parent: Json, key: string | number) => Json | undefined): Json {
  if (path.length === 0) return f(doc, doc, '') ?? null;
  const copy = structuredClone(doc);
  let node = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  const next = f(node[last]!, node as Json, last);
  if (next === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = next;
  return copy;
}

const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, -3, 0.5, 1e308, -1e308, 2 ** 53 + 2, '', 'x', '__proto__', [], {}, [null], { __proto__: 1 } as unknown as Json),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const docMutation = fc.record({
  which: fc.nat(),
  at: fc.nat(),
  kind: fc.constantFrom('replace', 'delete', 'rename', 'wrap'),
  value: replacement,
  name: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'maxBytes', 'security'), fc.string({ maxLength: 8 })),
});

describe('fuzz: topology validator', () => {
  it('the shipped topologies are valid', () => {
    assert.ok(docs.length >= 2);
  });

  it('random JSON/YAML values as a whole document', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, asYaml) => {
        parse(asYaml ? stringify(value) : JSON.stringify(value));
      }),
      runs(1500),
    );
  });

  it('shipped topologies with values replaced, deleted, renamed or wrapped (1 to 4 edits)', () => {
    const plain = shipped.map((s) => JSON.parse(JSON.stringify(parseYamlLoose(s.text))) as Json);
    fc.assert(
      fc.property(fc.array(docMutation, { minLength: 1, maxLength: 4 }), fc.nat(), (mutations, pick) => {
        let doc: Json = plain[pick % plain.length]!;
        for (const m of mutations) {
          const all = paths(doc).filter((p) => p.length > 0);
          if (all.length === 0) break;
          const path = all[m.at % all.length]!;
          doc = setAt(doc, path, (old, parent, key) => {
            if (m.kind === 'replace') return m.value;
            if (m.kind === 'delete') return undefined;
            if (m.kind === 'wrap') return [old];
            if (!Array.isArray(parent) && parent !== null && typeof parent === 'object') {
              (parent as Record<string, Json>)[m.name] = old;
              return typeof key === 'string' ? undefined : old;
            }
            return old;
          });
        }
        parse(stringify(doc));
      }),
      runs(1200),
    );
  });

  it('shipped topology texts with random character edits', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.record({ at: fc.nat(), cut: fc.nat(6), insert: fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom(':', '-', '&a', '*a', '!!binary', '{', '[', '\t', '\n', '"', '%YAML 1.1\n', '<<: *a')) }), { minLength: 1, maxLength: 5 }),
        (pick, edits) => {
          let text = shipped[pick % shipped.length]!.text;
          for (const e of edits) {
            const at = e.at % (text.length + 1);
            text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
          }
          parse(text);
        },
      ),
      runs(1200),
    );
  });

  it("YAML's sharp edges: alias bombs, self-references, tags, duplicate keys, huge numbers", () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const cases = [
      bomb.join('\n'),
      'name: &n x\nsource: &s {topics: [a], self: *s}',
      'name: x\nsource: &s\n  topics: [a]\n  extra: *s',
      'name: x\nsource: {topics: [a]}\nseed: !!binary aGVsbG8=',
      'name: x\nsource: {topics: [a]}\nseed: !!timestamp 2001-12-14',
      'name: x\nsource: {topics: [a]}\nseed: !!set {a, b}',
      'name: x\nsource: {topics: [a]}\nseed: !custom 3',
      'name: x\nname: y\nsource: {topics: [a]}',
      'name: x\nsource: {topics: [a]}\nseed: 123456789012345678901234567890',
      'name: x\nsource: {topics: [a]}\nseed: .nan',
      'name: x\nsource: {topics: [a]}\n? [complex, key]\n: 1',
      'name: x\nsource: {topics: [a]}\n<<: {seed: 1}',
      '---\nname: x\n---\nname: y',
      '\ufeffname: x\nsource: {topics: [a]}',
      'name: x\u0000\nsource: {topics: [a]}',
      `name: x\nsource: {topics: [a]}\ndescription: ${'['.repeat(5000)}${']'.repeat(5000)}`,
      `name: x\nsource: {topics: [a]}\ndescription: ${'{a: '.repeat(3000)}1${'}'.repeat(3000)}`,
      `${'- '.repeat(3000)}x`,
      '',
      '# only a comment',
      '~',
      '[]',
      '"name"',
    ];
    for (const text of cases) parse(text);
  });
});
