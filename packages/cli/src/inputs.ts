import { readFile } from 'node:fs/promises';
import { ErrorCode, hasCode } from '@orchestr8/common';
import { type Diagnostic, DiagnosticCode, formatDiagnostic } from '@orchestr8/schema';
import { parse as parseYaml } from 'yaml';

export class UsageError extends Error {
  override name = 'UsageError';
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** `--input a.b=value`: the value is JSON when it parses as JSON, else a string. */
export function applyInputPair(target: Record<string, unknown>, pair: string): void {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`--input expects key=value, got "${pair}"`);
  const path = pair.slice(0, eq).split('.');
  const raw = pair.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: keep the string
  }
  let node = target;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (key === '' || FORBIDDEN.has(key))
      throw new UsageError(`--input key "${pair.slice(0, eq)}" is not allowed`);
    if (i === path.length - 1) node[key] = value;
    else {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
  }
}

/** Reads `--inputs file.json|yaml` (an object) and applies `--input` pairs over it. */
export async function collectInputs(
  file: string | undefined,
  pairs: readonly string[],
): Promise<Record<string, unknown>> {
  let base: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read inputs file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = /\.ya?ml$/i.test(file) ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text);
    } catch (e) {
      throw new UsageError(
        `inputs file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`inputs file ${file} must hold an object`);
    }
    base = parsed as Record<string, unknown>;
  }
  for (const p of pairs) applyInputPair(base, p);
  return base;
}

/** `/inputs/a/b` -> `a.b`, the key of `--input a.b=...`; undefined for `/inputs` itself. */
function inputKey(pointer: string): string | undefined {
  if (!pointer.startsWith('/inputs/')) return undefined;
  return pointer
    .slice('/inputs/'.length)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** How to fix an E_INPUTS problem from the command line. */
export function inputHint(d: Diagnostic): string | undefined {
  // The schema's wording for a missing input (packages/schema inputs.ts).
  const missing = /^missing required input "(.*)"$/.exec(d.message)?.[1];
  const parent = inputKey(d.pointer);
  if (missing !== undefined) return `pass it: --input ${parent ? `${parent}.` : ''}${missing}=<value>`;
  const key = parent;
  if (key === undefined) return undefined;
  if (d.message.startsWith('unknown input'))
    return `the workflow declares no input "${key}": check its spelling, or leave it out`;
  // --input zip=02134 or name=true parse as JSON: a string that looks like JSON is quoted.
  if (/^must be string\b/.test(d.message))
    return `--input parses a value as JSON when it can: pass the text as a JSON string, --input '${key}="<value>"'`;
  return `pass it as --input ${key}=<value> (a value that parses as JSON, like 42 or true, is passed as such)`;
}

/**
 * The text for an error from starting an execution with inputs its workflow refuses (a
 * VALIDATION error whose details are E_INPUTS diagnostics): each problem as `validate`
 * prints a diagnostic, with a command-line hint. Undefined for any other error.
 */
export function inputsErrorText(e: unknown): string | undefined {
  if (!hasCode(e, ErrorCode.VALIDATION)) return undefined;
  const details = (e as { details?: unknown }).details;
  if (!Array.isArray(details) || details.length === 0) return undefined;
  const problems = details as Diagnostic[];
  if (!problems.every((d) => d?.code === DiagnosticCode.INPUTS)) return undefined;
  const lines = problems.map((d) => {
    const hint = d.hint ?? inputHint(d);
    return formatDiagnostic(hint === undefined ? d : { ...d, hint });
  });
  const n = problems.length;
  return `${lines.join('\n')}\ninputs: ${n} error${n === 1 ? '' : 's'}; nothing was run\n`;
}
