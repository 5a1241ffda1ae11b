/**
 * What a tool call answers: JSON as text (every MCP client reads text) and the same value
 * as `structuredContent`; failures as `isError` results that carry the error's stable
 * `code`, so an assistant can react to them, never as protocol errors.
 */

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, ensureError } from '@orchestr8/common';

export function ok(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }], structuredContent: value };
}

export interface ToolProblem {
  code: string;
  message: string;
  /** Each problem on its own line: a diagnostic's pointer, a capability's step. */
  problems?: string[];
  details?: unknown;
}

export function failed(p: ToolProblem): CallToolResult {
  const lines = [`${p.code}: ${p.message}`, ...(p.problems ?? []).map((l) => `  ${l}`)];
  const error: Record<string, unknown> = { code: p.code, message: p.message };
  if (p.problems !== undefined) error.problems = p.problems;
  if (p.details !== undefined) error.details = p.details;
  return { isError: true, content: [{ type: 'text', text: lines.join('\n') }], structuredContent: { error } };
}

interface DiagnosticLike {
  severity?: string;
  pointer?: string;
  message?: string;
  code?: string;
}

/** One line per diagnostic: where (a JSON pointer), then what. */
export function diagnosticLines(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  return (details as DiagnosticLike[])
    .filter((d) => d && d.severity !== 'warning')
    .map((d) => `${d.pointer === undefined || d.pointer === '' ? '/' : d.pointer}: ${d.message ?? d.code}`);
}

/** Any thrown value as a tool error: validation and capability problems listed one per line. */
export function fromError(e: unknown, context?: string): CallToolResult {
  const err = ensureError(e, ErrorCode.INTERNAL);
  const details = err.details as
    | { problems?: { stepId?: string; message: string; grant?: string }[] }
    | undefined;
  if (err.code === ErrorCode.CAPABILITY_DENIED && Array.isArray(details?.problems)) {
    return failed({
      code: err.code,
      message: 'the document asks for more than this host grants; nothing was run',
      problems: details.problems.map(
        (p) =>
          `${p.stepId !== undefined ? `step "${p.stepId}": ` : ''}${p.message}${p.grant ? `; ${p.grant}` : ''}`,
      ),
      details: err.details,
    });
  }
  const problems = diagnosticLines(err.details);
  return failed({
    code: err.code,
    message: context ? `${context}: ${err.message}` : err.message,
    ...(problems.length > 0 ? { problems } : {}),
  });
}
