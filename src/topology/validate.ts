/**
 * Turns zod issues on a parsed YAML document into messages that name the file, the line, the path inside
 * it, what was expected and what was found, e.g.
 * `topologies/x.yaml:12: sample.size must be a number > 0, got -3`.
 */
import type { z } from 'zod';
import { LineCounter, isNode, type Document } from 'yaml';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function expectation(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${issue.expected === 'object' ? 'a mapping' : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`}`;
    case 'too_small':
      return `must be ${issue.origin === 'array' || issue.origin === 'string' ? 'of length ' : ''}${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `must be ${issue.origin === 'array' || issue.origin === 'string' ? 'of length ' : ''}${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => show(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'is not a known field (check its spelling against the README)';
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      // A discriminated union lists its options; a plain union carries the message its schema gave it.
      return 'options' in issue && Array.isArray(issue.options) ? `must be one of ${issue.options.map((v) => show(v)).join(', ')}` : issue.message;
    case 'invalid_format':
      // A regex or URL check carries its own description of what is allowed.
      return issue.format === 'regex' || issue.format === 'url' ? `must be ${issue.message}` : `must be a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

function dotted(path: readonly PathKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** One line per issue; unknown keys are reported one by one, each with its own path. */
export function describeIssues(
  file: string,
  issues: readonly Issue[],
  doc?: Document,
  lines?: LineCounter,
): string[] {
  const out: string[] = [];
  const lineOf = (path: readonly PathKey[]): string => {
    if (doc === undefined || lines === undefined) return '';
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return `:${lines.linePos(node.range[0]).line}`;
    }
    return '';
  };
  for (const issue of issues) {
    const input = 'input' in issue ? issue.input : undefined;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push(`${file}${lineOf(path)}: ${dotted(path)} ${expectation(issue)}`);
      }
      continue;
    }
    const where = issue.path.length === 0 ? '(the document)' : dotted(issue.path);
    // A discriminated union reports the whole object at the discriminator's path: show the discriminator.
    const shown = issue.code === 'invalid_union' && 'discriminator' in issue && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[String(issue.discriminator)] : input;
    const found = issue.code === 'invalid_type' && input === undefined ? 'nothing (it is missing)' : show(shown);
    const custom = issue.code === 'custom' ? issue.message : `${expectation(issue)}, got ${found}`;
    out.push(`${file}${lineOf(issue.path)}: ${where} ${custom}`);
  }
  return out;
}
