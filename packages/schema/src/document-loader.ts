/**
 * The workflow loader's machinery for other document kinds (stream documents, ...): the
 * same parsing with positions, size and depth limits, JSON Schema diagnostics and
 * line:column reporting, with the checks supplied by the caller.
 */
import { readFile, stat } from 'node:fs/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type Diagnostic, DiagnosticCode, error, type PendingDiagnostic } from './diagnostics.js';
import { finish, tooLarge } from './load.js';
import { type DocumentFormat, detectFormat, exceedsDepth, LIMITS, parseText } from './parse.js';
import { checkUserSchema, condense, toDiagnostic } from './schema-validator.js';

const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule.default }).default;

/** A problem found by a document check: a diagnostic whose position is found from `pointer`. */
export type DocumentProblem = Omit<Diagnostic, 'file' | 'line' | 'column'> & {
  /** The position is the key named by the pointer's last segment (unknown fields), not its value. */
  atKey?: boolean;
};

/** Checks a parsed value; returns every problem (an empty list when it is valid). */
export type DocumentCheck = (value: unknown) => DocumentProblem[];

export interface LoadDocumentOptions {
  filename?: string;
  format?: DocumentFormat;
  check: DocumentCheck;
}

export interface DocumentLoadResult {
  /** False when any diagnostic is an error. */
  ok: boolean;
  /** Sorted by position, each with line:column when loaded from text. */
  diagnostics: Diagnostic[];
  /** The parsed value, when it parsed (valid or not). */
  value?: unknown;
}

function done(
  pending: PendingDiagnostic[],
  value: unknown,
  parsed: Parameters<typeof finish>[1],
  file?: string,
) {
  const diagnostics = finish(pending, parsed, file);
  const r: DocumentLoadResult = { ok: !diagnostics.some((d) => d.severity === 'error'), diagnostics };
  if (value !== undefined) r.value = value;
  return r;
}

/** Parses (JSON or YAML) within the workflow limits and runs `check`. Never throws. */
export function loadDocument(text: string, options: LoadDocumentOptions): DocumentLoadResult {
  const file = options.filename;
  if (text.length > LIMITS.maxBytes / 4) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > LIMITS.maxBytes) return done([tooLarge(bytes)], undefined, undefined, file);
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const parsed = parseText(body, options.format ?? detectFormat(file));
  const pending = parsed.diagnostics;
  if (!parsed.fatal) pending.push(...(options.check(parsed.value) as PendingDiagnostic[]));
  return done(pending, parsed.fatal ? undefined : parsed.value, parsed, file);
}

/** Reads and loads a file; an unreadable file is one E_READ diagnostic. */
export async function loadDocumentFile(
  path: string,
  options: Omit<LoadDocumentOptions, 'filename'>,
): Promise<DocumentLoadResult> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    if (info.size > LIMITS.maxBytes) return done([tooLarge(info.size)], undefined, undefined, path);
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    return done(
      [error(DiagnosticCode.READ, '', `cannot read ${path}: ${reason}`)],
      undefined,
      undefined,
      path,
    );
  }
  return loadDocument(text, { ...options, filename: path });
}

/** Checks a value that arrived already parsed: pointers, no positions. */
export function checkDocumentObject(value: unknown, check: DocumentCheck): DocumentLoadResult {
  if (exceedsDepth(value, LIMITS.maxDepth)) {
    return done(
      [error(DiagnosticCode.TOO_DEEP, '', `nesting deeper than ${LIMITS.maxDepth} levels`)],
      undefined,
      undefined,
    );
  }
  return done(check(value) as PendingDiagnostic[], value, undefined);
}

let documentAjv: Ajv2020 | undefined;

function ajv(): Ajv2020 {
  if (!documentAjv) {
    // No defaults: checked values (documents, event payloads) are never changed.
    documentAjv = new Ajv2020({ allErrors: true, verbose: true, strict: false });
    addFormats(documentAjv);
  }
  return documentAjv;
}

/**
 * A check against a JSON Schema (2020-12), with the workflow validator's readable messages
 * (one per problem, unions condensed, unknown fields with a "did you mean"). `patterns`
 * maps a pattern's source to the text said when a value does not match it. Compiled once.
 */
export function createJsonSchemaCheck(
  schema: object,
  patterns: Readonly<Record<string, string>> = {},
): (value: unknown, pointerPrefix?: string) => DocumentProblem[] {
  const compiled: ValidateFunction = ajv().compile(schema);
  // ajv caches compiled schemas forever; the function lives on without the cache entry.
  ajv().removeSchema(schema);
  return (value, prefix = '') => {
    if (compiled(value)) return [];
    return condense(compiled.errors ?? []).map((e) => {
      const d = toDiagnostic(e);
      if (e.keyword === 'pattern') {
        const text = patterns[String((e.params as { pattern?: unknown }).pattern)];
        if (text) d.message = text;
      }
      d.pointer = prefix + d.pointer;
      return d;
    });
  };
}

/** Problems of a user-written JSON Schema against the 2020-12 meta-schema (empty when valid). */
export function jsonSchemaProblems(schema: unknown): string[] {
  return checkUserSchema(schema);
}
