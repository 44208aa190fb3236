/**
 * The local schema store: every `schemas/<stem>.v<N>.avsc` file, parsed with avsc, by full name and version.
 *
 * Each file is parsed on its own (a fresh avsc name registry per file), exactly as a consumer that holds only
 * that file would parse it, so the named types repeated across files (SourceOffset) never clash.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Type } from 'avsc';
import { ERROR_CODES, TokrsError, describeError } from '../errors.js';

/** The schemas folder of this checkout, resolved from this module so it works from any working directory. */
export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

/** One version of one schema. */
export interface SchemaEntry {
  /** Full Avro name, e.g. dev.tokrs.Metrics. */
  readonly name: string;
  /** File stem, e.g. metrics. */
  readonly stem: string;
  readonly version: number;
  readonly file: string;
  readonly type: Type;
  /** The .avsc JSON text as written (with docs), e.g. to register with a schema registry. */
  readonly text: string;
  /** Hex SHA-256 of the schema's Parsing Canonical Form, as avsc's `type.fingerprint('sha256')` gives it. */
  readonly fingerprint: string;
}

const FILE_PATTERN = /^([a-z0-9][a-z0-9-]*)\.v([1-9][0-9]*)\.avsc$/;

export const schemaError = (message: string, cause?: unknown): TokrsError =>
  new TokrsError(ERROR_CODES.SCHEMA, message, cause === undefined ? {} : { cause });

export class SchemaStore {
  private readonly byName = new Map<string, SchemaEntry[]>();
  private readonly byFingerprint = new Map<string, SchemaEntry>();

  constructor(entries: readonly SchemaEntry[]) {
    for (const entry of entries) {
      const list = this.byName.get(entry.name) ?? [];
      if (list.some((e) => e.version === entry.version)) {
        throw schemaError(`${entry.file}: ${entry.name} version ${entry.version} is defined twice`);
      }
      const sameStem = list.find((e) => e.stem !== entry.stem);
      if (sameStem) {
        throw schemaError(`${entry.file}: ${entry.name} is also defined by ${sameStem.file}; one name, one file stem`);
      }
      list.push(entry);
      list.sort((a, b) => a.version - b.version);
      this.byName.set(entry.name, list);
      this.byName.set(entry.stem, list);
      this.byFingerprint.set(entry.fingerprint, entry);
    }
  }

  /** Full names of all schemas. */
  names(): string[] {
    return [...new Set([...this.byName.values()].map((list) => list[0].name))].sort();
  }

  /** All versions of a schema, oldest first; `name` is the full name or the file stem. */
  versions(name: string): readonly SchemaEntry[] {
    const list = this.byName.get(name);
    if (!list) throw schemaError(`unknown schema ${name}; known: ${this.names().join(', ')}`);
    return list;
  }

  /** One version of a schema, or its latest when `version` is omitted. */
  get(name: string, version?: number): SchemaEntry {
    const list = this.versions(name);
    if (version === undefined) return list[list.length - 1];
    const entry = list.find((e) => e.version === version);
    if (!entry) {
      throw schemaError(`schema ${name} has no version ${version}; known: ${list.map((e) => e.version).join(', ')}`);
    }
    return entry;
  }

  latest(name: string): SchemaEntry {
    return this.get(name);
  }

  /** The entry with this fingerprint, if it is one of ours. */
  byFingerprintHex(fingerprint: string): SchemaEntry | undefined {
    return this.byFingerprint.get(fingerprint.toLowerCase());
  }
}

/** Parses one .avsc text; `file` names it in errors. */
export function parseSchemaFile(file: string, text: string, stem: string, version: number): SchemaEntry {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw schemaError(`${file}: not valid JSON: ${describeError(error)}`, error);
  }
  let type: Type;
  try {
    // A fresh registry per file: each file must stand alone, as it does for an outside consumer.
    type = avro.Type.forSchema(json as avro.schema.AvroSchema, { registry: {} });
  } catch (error) {
    throw schemaError(`${file}: not a valid Avro schema: ${describeError(error)}`, error);
  }
  if (type.name === undefined) throw schemaError(`${file}: the top-level type must be a named record`);
  return {
    name: type.name,
    stem,
    version,
    file,
    type,
    text,
    fingerprint: type.fingerprint('sha256').toString('hex'),
  };
}

/** Reads every `<stem>.v<N>.avsc` in `dir`. Other files are ignored. */
export function loadSchemas(dir: string = DEFAULT_SCHEMA_DIR): SchemaStore {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (error) {
    throw schemaError(`cannot read the schemas folder ${dir}: ${describeError(error)}`, error);
  }
  const entries: SchemaEntry[] = [];
  for (const file of files.sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const path = `${dir.replace(/\/$/, '')}/${file}`;
    entries.push(parseSchemaFile(path, readFileSync(path, 'utf8'), match[1], Number(match[2])));
  }
  if (entries.length === 0) throw schemaError(`no <name>.v<N>.avsc files in ${dir}`);
  return new SchemaStore(entries);
}

let defaultStore: SchemaStore | undefined;

/** The store of this checkout's `schemas/` folder, loaded once on first use. */
export function defaultSchemas(): SchemaStore {
  defaultStore ??= loadSchemas();
  return defaultStore;
}
