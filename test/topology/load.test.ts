import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { isTokrsError } from '../../src/errors.js';
import { loadTopology, parseTopology } from '../../src/topology/load.js';

const topologies = fileURLToPath(new URL('../../topologies/', import.meta.url));

function refused(text: string): string {
  try {
    parseTopology(text, 'topologies/x.yaml');
  } catch (error) {
    assert.ok(isTokrsError(error, 'TOKRS_ERR_TOPOLOGY'));
    return error.message;
  }
  assert.fail('the topology was accepted');
}

const minimal = 'name: t\nsource:\n  topics: [in]\n';

test('a minimal topology gets every default', () => {
  const t = parseTopology(minimal, 'x.yaml');
  assert.equal(t.source.format, 'text');
  assert.equal(t.source.start, 'earliest');
  assert.equal(t.tokenize.tokenizer, 'jieba');
  assert.equal(t.features.bits, 20);
  assert.equal(t.model.type, 'softmax-sgd');
  assert.equal(t.outputs.metrics, null);
});

test('an invalid field is refused with file, line, path, expectation and what was found', () => {
  assert.equal(
    refused(`${minimal}sample:\n  size: -3\n`),
    'topologies/x.yaml:5: sample.size must be > 0, got -3',
  );
  assert.equal(
    refused(`${minimal}tokenize:\n  tokenizer: spacy\n`),
    'topologies/x.yaml:5: tokenize.tokenizer must be one of "jieba", "bpe", "chars", "words", got "spacy"',
  );
  assert.equal(refused('name: t\nsource: {}\n'), 'topologies/x.yaml:2: source.topics must be an array, got nothing (it is missing)');
  assert.match(refused(`${minimal}modle: {}\n`), /^topologies\/x\.yaml:4: modle is not a known field/);
  assert.match(refused('name: [\n'), /^topologies\/x\.yaml:\d+: not valid YAML/);
});

test('a misspelled key is refused in every mapping of a topology, not dropped', () => {
  // Every mapping of the fully expanded waimai topology (all defaults filled in), one at a time: a key the
  // schema does not know must be refused there, or a typo (features.bitz) would silently run the default.
  const full = JSON.parse(JSON.stringify(loadTopology(join(topologies, 'waimai-sentiment.yaml')))) as Record<string, unknown>;
  assert.doesNotThrow(() => parseTopology(stringify(full), 'full.yaml'), 'the expanded form is itself a valid topology');
  const mappings: string[][] = [];
  const walk = (o: unknown, path: string[]): void => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
    mappings.push(path);
    for (const [k, v] of Object.entries(o)) walk(v, [...path, k]);
  };
  walk(full, []);
  assert.ok(mappings.length > 20, `${mappings.length} mappings`);
  for (const path of mappings) {
    const copy = JSON.parse(JSON.stringify(full)) as Record<string, unknown>;
    let at = copy;
    for (const k of path) at = at[k] as Record<string, unknown>;
    at.typo = 1;
    const where = [...path, 'typo'].join('.');
    assert.match(refused(stringify(copy)), new RegExp(`: ${where.replace(/\./g, '\\.')} is not a known field`), where);
  }
});

test('sample settings a topology\'s sampler cannot use are refused at start, not at the first message', () => {
  assert.equal(
    refused(`${minimal}sample:\n  method: weighted\n  weightField: weight\n`),
    'topologies/x.yaml:6: sample.weightField must be "tokenCount" (the token count of the example the sampler is offered; an example has only features, label, tokenCount and timestamp), got "weight"',
  );
  assert.match(refused(`${minimal}sample:\n  labelField: category\n`), /:5: sample\.labelField must be "label" .*got "category"/);
  assert.match(refused(`${minimal}sample:\n  timeField: ts\n`), /:5: sample\.timeField must be "timestamp" .*got "ts"/);
  assert.equal(
    refused(`${minimal}sample:\n  method: recent\n  size: 1000\n  recent: { bias: 0.01 }\n`),
    'topologies/x.yaml:7: sample.recent.bias must be in (0, 1/sample.size] = (0, 0.001], got 0.01 (with a larger bias a full reservoir would have to drop more than one item for each item it takes)',
  );
  assert.doesNotThrow(() => parseTopology(`${minimal}sample:\n  method: recent\n  size: 1000\n  recent: { bias: 0.001 }\n`, 'x.yaml'));
  // With a window the bias is not used, so it is not checked.
  assert.doesNotThrow(() => parseTopology(`${minimal}sample:\n  method: recent\n  size: 100\n  recent: { bias: 0.5, windowItems: 50 }\n`, 'x.yaml'));
  assert.match(refused(`${minimal}sample:\n  seed: 5\n`), /:5: sample\.seed is not used in a topology, got 5: the topology's own seed/);
});

test('settings that cannot run are refused at start: tfjs with 2^20 buckets, node-rs with HMM only, a bad locale, a bad broker', () => {
  assert.match(refused(`${minimal}model: { type: tfjs }\n`), /x\.yaml:4: model\.type is tfjs, which needs features\.bits <= 14 .*got features\.bits 20/);
  assert.doesNotThrow(() => parseTopology(`${minimal}model: { type: tfjs }\nfeatures: { bits: 14 }\n`, 'x.yaml'));
  assert.match(
    refused(`${minimal}tokenize: { jieba: { engine: node-rs, mode: hmm } }\n`),
    /:4: tokenize\.jieba\.mode is "hmm" \(the HMM alone\), which only engine "nodejieba" has/,
  );
  // The jieba section of a topology that tokenizes otherwise is never read, so it is not checked.
  assert.doesNotThrow(() => parseTopology(`${minimal}tokenize: { tokenizer: bpe, jieba: { engine: node-rs, mode: hmm } }\n`, 'x.yaml'));
  assert.match(refused(`${minimal}tokenize: { tokenizer: words, words: { locale: "not a locale!!" } }\n`), /tokenize\.words\.locale must be a BCP 47 language tag .*got "not a locale!!"/);
  assert.doesNotThrow(() => parseTopology(`${minimal}tokenize: { tokenizer: words, words: { locale: zh-Hans } }\n`, 'x.yaml'));
  assert.match(refused('name: t\nsource:\n  topics: [in]\n  brokers: ["not a broker"]\n'), /:4: source\.brokers\[0\] must be host:port/);
  assert.match(refused('name: t\nsource:\n  topics: [in]\n  brokers: ["b:99999"]\n'), /source\.brokers\[0\] must be host:port/);
  assert.doesNotThrow(() => parseTopology('name: t\nsource:\n  topics: [in]\n  brokers: ["kafka-1.example:9092", "10.0.0.1:9093"]\n', 'x.yaml'));
  // KafkaJS splits an address at its colons: a bracketed IPv6 address cannot connect.
  assert.match(refused('name: t\nsource:\n  topics: [in]\n  brokers: ["[::1]:9094"]\n'), /source\.brokers\[0\] must be host:port/);
});

test('an output topic that is a source topic, or another output\'s topic, is refused', () => {
  // A dead letter of an undecodable message is itself undecodable: read back, it feeds the run forever.
  assert.match(
    refused(`${minimal}outputs: { deadLetters: { topic: in } }\n`),
    /outputs\.deadLetters\.topic must not be a source topic, got "in", which source\.topics reads/,
  );
  assert.match(
    refused(`${minimal}outputs: { metrics: { topic: out }, predictions: { topic: out } }\n`),
    /outputs\.predictions\.topic must differ from outputs\.metrics\.topic, got "out" for both/,
  );
  assert.match(
    refused(`${minimal}outputs: { snapshots: { topic: s } }\ncheckpoint: { topic: s }\n`),
    /checkpoint\.topic must differ from outputs\.snapshots\.topic/,
  );
});

test('messages show the value that is wrong, once, and where it is', () => {
  assert.equal(
    refused(`${minimal}model: { optimizer: { type: adam } }\n`),
    'topologies/x.yaml:4: model.optimizer.type must be one of "sgd", "adagrad", "ftrl", got "adam"',
  );
  assert.equal(
    refused(`${minimal}model: { classWeights: foo }\n`),
    'topologies/x.yaml:4: model.classWeights must be "none", "balanced" or a map of label to a weight >= 0, got "foo"',
  );
  assert.equal(
    refused(`${minimal}features: { seed: 5, signSeed: 5 }\n`),
    'topologies/x.yaml:4: features.signSeed must differ from features.seed, or the sign would depend on the bucket',
  );
  assert.match(refused(`${minimal}guarantee: exactly-once\n`), /^topologies\/x\.yaml:4: guarantee is exactly-once, which needs a checkpoint section/);
  assert.equal(refused('name: t\nname: u\n'), 'topologies/x.yaml:2: not valid YAML: Map keys must be unique (column 1)');
});

test('several problems are all reported', () => {
  const message = refused('name: "bad name"\nsource:\n  topics: []\n  maxInFlight: 0\n');
  assert.match(message, /has 3 problems/);
  assert.match(message, /:1: name must be a name of letters, digits, "\.", "_", "-", got "bad name"/);
  assert.match(message, /source\.topics must be of length >= 1, got \[\]/);
  assert.match(message, /source\.maxInFlight must be > 0, got 0/);
});

test('every shipped topology is valid', () => {
  const files = readdirSync(topologies).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 2, 'at least the waimai and one multi-class topology ship');
  for (const f of files) assert.doesNotThrow(() => loadTopology(join(topologies, f)), f);
});

test('model averaging needs the snapshots topic and a softmax-sgd model', () => {
  assert.match(refused(`${minimal}average:\n  everyMs: 1000\n`), /x\.yaml:\d+: average averages models through the snapshots topic, which needs outputs\.snapshots/);
  assert.match(
    refused(`${minimal}average: {}\nmodel:\n  type: tfjs\noutputs:\n  snapshots:\n    topic: s\n`),
    /average averages softmax-sgd models, got model\.type tfjs/,
  );
  const t = parseTopology(`${minimal}average: {}\noutputs:\n  snapshots:\n    topic: s\n`, 'x.yaml');
  assert.deepEqual(t.average, { everyMs: 30_000, maxAgeMs: 300_000 });
  assert.equal(parseTopology(minimal, 'x.yaml').average, null);
});
