/** Topologies for integration tests: a shipped topology with fresh topic and group names. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/spec.js';
import { uniqueName } from './kafka.js';

export function freshTopology(file = 'waimai-sentiment.yaml', change: (t: Topology) => Topology = (t) => t): Topology {
  const base = loadTopology(fileURLToPath(new URL(`../../topologies/${file}`, import.meta.url)));
  const name = uniqueName(base.name);
  return change({
    ...base,
    name,
    source: { ...base.source, topics: [uniqueName(`${name}-in`)], group: uniqueName(`${name}-group`) },
    outputs: {
      ...base.outputs,
      metrics: { topic: `${name}.metrics` },
      snapshots: base.outputs.snapshots === null ? null : { ...base.outputs.snapshots, topic: `${name}.snapshots` },
      predictions: { topic: `${name}.predictions` },
      deadLetters: { topic: `${name}.dead-letters` },
    },
    checkpoint: base.checkpoint === null ? null : { ...base.checkpoint, topic: `${name}.state` },
  });
}

/** Writes a validated topology back to a YAML file, for tests that run `tokrs` as a child process. */
export function writeTopology(t: Topology): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tokrs-topology-')), `${t.name}.yaml`);
  writeFileSync(file, stringify(t));
  return file;
}
