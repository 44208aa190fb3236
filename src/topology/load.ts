/** Reads and validates topology files: a bad file is refused at start with every problem it has. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { topologyError } from '../errors.js';
import { topologySchema, type Topology } from './spec.js';
import { describeIssues } from './validate.js';

/** Validates a topology given as YAML text; `file` names it in messages. */
export function parseTopology(text: string, file: string): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    // yaml's first line ends with " at line L, column C:" (the excerpt followed): the line is given already.
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw topologyError(`${file}${pos ? `:${pos.line}` : ''}: not valid YAML: ${message} (column ${pos?.col ?? '?'})`);
  }
  let value: unknown;
  try {
    // toJS resolves aliases: it throws (a ReferenceError) for an alias without its anchor and for an
    // alias bomb (yaml's maxAliasCount), which test/fuzz/topology found escaping as a raw error.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw topologyError(`${file}: not a usable YAML document: ${(error as Error).message.split('\n')[0]}`);
  }
  const result = topologySchema.safeParse(value ?? {}, { reportInput: true });
  if (!result.success) {
    const problems = describeIssues(file, result.error.issues, doc, lines);
    throw topologyError(
      `${problems.length === 1 ? problems[0] : `${file} has ${problems.length} problems:\n  ${problems.join('\n  ')}`}`,
    );
  }
  return result.data;
}

export function loadTopology(path: string): Topology {
  const shown = relative(process.cwd(), path) || path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw topologyError(`cannot read topology file ${shown}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseTopology(text, shown);
}
