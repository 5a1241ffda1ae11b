import { readFile, stat } from 'node:fs/promises';
import { type AnalyzeOptions, analyzeWorkflow } from './analyze.js';
import type { CompiledWorkflow } from './compiled.js';
import { withoutConsequences } from './consequences.js';
import {
  type Diagnostic,
  DiagnosticCode,
  error,
  type PendingDiagnostic,
  parsePointer,
  toPointer,
} from './diagnostics.js';
import type { WorkflowDocument } from './document-schema.js';
import {
  type DocumentFormat,
  detectFormat,
  exceedsDepth,
  LIMITS,
  type ParsedText,
  parseText,
} from './parse.js';
import { validateAgainstSchema } from './schema-validator.js';
import { wellFormedPart } from './well-formed-part.js';

export interface LoadResult {
  /** False when any diagnostic is an error. */
  ok: boolean;
  diagnostics: Diagnostic[];
  /** The document as written, when it is schema-valid. */
  document?: WorkflowDocument;
  /** Only when ok. */
  workflow?: CompiledWorkflow;
  /** Agent ids that were not checked, being outside `knownAgentScopes` (sorted). */
  uncheckedAgents?: string[];
}

/** Which agents a document may use. */
export interface AgentOptions {
  /** When given, an agent id outside this list is E_UNKNOWN_AGENT. */
  knownAgents?: readonly string[];
  /**
   * The scopes (`@orchestr8`) `knownAgents` is complete for, when it is not complete for
   * every id (no project config): ids outside them are not checked but listed in
   * `uncheckedAgents`. Ids in a scope that looks like one of them (`@orchestra8`) are.
   */
  knownAgentScopes?: readonly string[];
}

export interface LoadOptions extends AgentOptions {
  filename?: string;
  format?: DocumentFormat;
}

const SUPPORTED_MAJOR = 1;

interface Validated {
  diagnostics: PendingDiagnostic[];
  document?: WorkflowDocument;
  workflow?: CompiledWorkflow;
  uncheckedAgents?: string[];
}

function analyzeOptions(agents: AgentOptions): AnalyzeOptions {
  const o: AnalyzeOptions = {};
  if (agents.knownAgents) o.knownAgents = agents.knownAgents;
  if (agents.knownAgentScopes) o.knownAgentScopes = agents.knownAgentScopes;
  return o;
}

/**
 * Version, then schema, then semantics. With schema problems, the semantics are checked on the
 * well-formed part of the document (well-formed-part.ts), without what may follow from the parts
 * left out (consequences.ts); when its shape is wrong, on nothing.
 */
function validateValue(value: unknown, agents: AgentOptions): Validated {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const version = (value as { version?: unknown }).version;
    const major = typeof version === 'string' ? /^(\d+)\.\d+\.\d+/.exec(version)?.[1] : undefined;
    if (major !== undefined && Number(major) !== SUPPORTED_MAJOR) {
      return {
        diagnostics: [
          error(
            DiagnosticCode.VERSION,
            '/version',
            `unsupported workflow format version "${version}": this engine reads ${SUPPORTED_MAJOR}.x`,
            {
              hint: `set version to "${SUPPORTED_MAJOR}.0.0", or use an engine that supports ${major}.x`,
            },
          ),
        ],
      };
    }
  }
  const schemaProblems = validateAgainstSchema(value);
  if (schemaProblems.length > 0) {
    // Check the well-formed rest too, so one run reports every problem.
    const part = wellFormedPart(value);
    if (part === undefined) return { diagnostics: schemaProblems };
    const doc = part.value as WorkflowDocument;
    const rest = analyzeWorkflow(doc, analyzeOptions(agents));
    return {
      diagnostics: [
        ...schemaProblems,
        ...withoutConsequences(part.unknown, rest.diagnostics, doc, part.pruned),
      ],
      ...(rest.uncheckedAgents ? { uncheckedAgents: rest.uncheckedAgents } : {}),
    };
  }
  const document = value as WorkflowDocument;
  const analysis = analyzeWorkflow(document, analyzeOptions(agents));
  const out: Validated = { diagnostics: analysis.diagnostics, document };
  if (analysis.workflow) out.workflow = analysis.workflow;
  if (analysis.uncheckedAgents) out.uncheckedAgents = analysis.uncheckedAgents;
  return out;
}

/** Adds line:col (from the text) and the file name; drops the internal fields. */
export function finish(
  pending: PendingDiagnostic[],
  parsed: ParsedText | undefined,
  file: string | undefined,
): Diagnostic[] {
  let offsets: ReturnType<ParsedText['locate']> | undefined;
  if (parsed && pending.some((d) => d.offset === undefined)) {
    const wanted = new Set<string>();
    for (const d of pending) {
      if (d.offset !== undefined) continue;
      const segs = parsePointer(d.pointer);
      for (let k = 0; k <= segs.length; k++) wanted.add(toPointer(segs.slice(0, k)));
    }
    offsets = parsed.locate(wanted);
  }
  const out = pending.map(({ atKey, offset, ...d }) => {
    const diag: Diagnostic = d;
    if (file !== undefined) diag.file = file;
    if (!parsed) return diag;
    let at = offset;
    if (at === undefined && offsets) {
      // The node itself, or its nearest ancestor present in the text (a missing field).
      const segs = parsePointer(d.pointer);
      for (let k = segs.length; k >= 0 && at === undefined; k--) {
        const node = offsets.get(toPointer(segs.slice(0, k)));
        if (node) at = k === segs.length && atKey ? (node.key ?? node.value) : node.value;
      }
    }
    if (at !== undefined) {
      const pos = parsed.position(at);
      diag.line = pos.line;
      diag.column = pos.column;
    }
    return diag;
  });
  // Compiler order: by position; diagnostics without one keep their order, after.
  return out
    .map((d, i) => ({ d, i }))
    .sort(
      (a, b) =>
        (a.d.line ?? Infinity) - (b.d.line ?? Infinity) || (a.d.column ?? 0) - (b.d.column ?? 0) || a.i - b.i,
    )
    .map((x) => x.d);
}

function result(diagnostics: Diagnostic[], v: Validated | undefined): LoadResult {
  const ok = !diagnostics.some((d) => d.severity === 'error');
  const r: LoadResult = { ok, diagnostics };
  if (v?.document) r.document = v.document;
  if (ok && v?.workflow) r.workflow = v.workflow;
  if (v?.uncheckedAgents) r.uncheckedAgents = v.uncheckedAgents;
  return r;
}

export function tooLarge(bytes: number): PendingDiagnostic {
  return error(
    DiagnosticCode.TOO_LARGE,
    '',
    `document is ${(bytes / 1024 / 1024).toFixed(1)} MB; the limit is ${LIMITS.maxBytes / 1024 / 1024} MB`,
  );
}

/**
 * Parses (JSON or YAML, by `format`, file extension or content), validates against the
 * schema, checks the semantics and compiles. Never throws: every problem is a diagnostic.
 */
export function loadWorkflow(text: string, options: LoadOptions = {}): LoadResult {
  const file = options.filename;
  if (text.length > LIMITS.maxBytes / 4) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > LIMITS.maxBytes) return result(finish([tooLarge(bytes)], undefined, file), undefined);
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const parsed = parseText(body, options.format ?? detectFormat(file));
  const pending = parsed.diagnostics;
  let validated: Validated | undefined;
  if (!parsed.fatal) {
    validated = validateValue(parsed.value, options);
    pending.push(...validated.diagnostics);
  }
  return result(finish(pending, parsed, file), validated);
}

/** Reads and loads a file; an unreadable file is one E_READ diagnostic. */
export async function loadWorkflowFile(path: string, options: AgentOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    if (info.size > LIMITS.maxBytes) return result(finish([tooLarge(info.size)], undefined, path), undefined);
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    return result(
      [{ ...error(DiagnosticCode.READ, '', `cannot read ${path}: ${reason}`), file: path }],
      undefined,
    );
  }
  return loadWorkflow(text, { filename: path, ...options });
}

/**
 * Validates and compiles a document that arrived already parsed (HTTP API, tests).
 * Diagnostics have pointers but no line/column.
 */
export function validateWorkflowObject(value: unknown, options: AgentOptions = {}): LoadResult {
  if (exceedsDepth(value, LIMITS.maxDepth)) {
    return result(
      finish(
        [error(DiagnosticCode.TOO_DEEP, '', `nesting deeper than ${LIMITS.maxDepth} levels`)],
        undefined,
        undefined,
      ),
      undefined,
    );
  }
  const validated = validateValue(value, options);
  return result(finish(validated.diagnostics, undefined, undefined), validated);
}
