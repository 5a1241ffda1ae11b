/**
 * The error-code reference: the engine's `ErrorCode`s (in journals, results and retry
 * policies), the loader's `DiagnosticCode`s (from `orchestr8 validate` and the API's
 * `errors`), and the HTTP API's problem codes (`ProblemCode`).
 */
import { code, generatedHeader, prose, table } from '../markdown.js';

export interface CodeDoc {
  /** The constant's name (`UNKNOWN_STEP`). */
  name: string;
  /** The stable string (`E_UNKNOWN_STEP`). */
  value: string;
  description: string;
}

export interface ErrorsPageInput {
  errorCodes: CodeDoc[];
  retriedByDefault: readonly string[];
  diagnosticCodes: CodeDoc[];
  /** Diagnostic codes the server adds (e.g. E_REQUEST), with where they come from. */
  extraDiagnosticCodes: CodeDoc[];
  problemCodes: (CodeDoc & { statuses: number[] })[];
}

/**
 * `<span id>` anchors so that a row can be linked: `#error-timeout`, `#e-unknown-step`,
 * `#problem-rate-limited`.
 */
export function codeAnchor(family: 'error' | 'diagnostic' | 'problem', value: string): string {
  const id = value.toLowerCase().replace(/_/g, '-');
  return family === 'diagnostic' ? id : `${family}-${id}`;
}

function anchored(family: 'error' | 'diagnostic' | 'problem', value: string): string {
  return `<span id="${codeAnchor(family, value)}"></span>${code(value)}`;
}

export function errorsPage(input: ErrorsPageInput): string {
  for (const [what, list] of [
    ['ErrorCode', input.errorCodes],
    ['DiagnosticCode', input.diagnosticCodes],
    ['ProblemCode', input.problemCodes],
  ] as const) {
    if (list.length === 0) throw new Error(`errors: ${what} has no codes`);
  }
  const retried = new Set(input.retriedByDefault);
  const out = [
    generatedHeader(
      'ErrorCode (packages/common), DiagnosticCode (packages/schema) and ProblemCode (packages/server)',
    ),
    '',
    '# Error codes',
    '',
    'Every code is a stable string: it is never renamed, so match on it (never on a message). ' +
      'There are three families: [engine errors](#engine-errors) in results, journals and retry policies; ' +
      '[diagnostics](#diagnostics) about a workflow document; and [HTTP problems](#http-problems) answered by the API.',
    '',
    '## Engine errors {#engine-errors}',
    '',
    'An execution or step that failed carries a serialized error: `{name, code, message, retryable, attempts?, retryAfterMs?, details?, cause?}`. ' +
      'Retry policies match the `code` (`retryOn`); by default they retry the codes marked below. ' +
      'An agent sets the code by throwing an orchestr8 error (`RetryableError`, `TerminalError`, or `new Orchestr8Error(code, message)`); anything else thrown becomes `AGENT_FAILED`.',
    '',
    table(
      ['Code', 'Retried by default', 'Meaning'],
      input.errorCodes.map((c) => [
        anchored('error', c.value),
        retried.has(c.value) ? 'yes' : 'no',
        prose(c.description),
      ]),
    ),
    '',
    '## Diagnostics {#diagnostics}',
    '',
    'Problems found in a workflow document, reported all at once (never thrown) by `orchestr8 validate`, `orchestr8 run`, the API (`errors` of a 400/422 problem) and `loadWorkflow`/`validateWorkflowObject`. ' +
      'Each has a `code`, a `severity`, a `message`, an RFC 6901 JSON `pointer` to the node at fault, and for text documents a `line` and `column`; many have a `hint`.',
    '',
    table(
      ['Code', 'Constant', 'Meaning'],
      [
        ...input.diagnosticCodes.map((c) => [
          anchored('diagnostic', c.value),
          code(`DiagnosticCode.${c.name}`),
          prose(c.description),
        ]),
        ...input.extraDiagnosticCodes.map((c) => [
          anchored('diagnostic', c.value),
          c.name,
          prose(c.description),
        ]),
      ],
    ),
    '',
    '## HTTP problems {#http-problems}',
    '',
    'Every error response of the HTTP API is `application/problem+json` (RFC 9457): `{type, title, status, detail, code, instance?, errors?}`. ' +
      '`code` is one of these; `errors` lists [diagnostics](#diagnostics) for 400 and 422. See the [HTTP API](./http-api.md).',
    '',
    table(
      ['Code', 'HTTP status', 'Meaning'],
      input.problemCodes.map((c) => [
        anchored('problem', c.value),
        c.statuses.length > 0 ? c.statuses.join(', ') : '',
        prose(c.description),
      ]),
    ),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}
