/**
 * Diagnostics: every problem found while loading a workflow document, reported like a
 * compiler does (all of them, each with a stable code and a position), never thrown.
 */

/** Stable diagnostic codes. They are matched by tooling and tests: never rename one. */
export const DiagnosticCode = {
  /** The file could not be read. */
  READ: 'E_READ',
  /** The document is larger than 10 MB. */
  TOO_LARGE: 'E_TOO_LARGE',
  /**
   * Malformed JSON or YAML, reported where the mistake is (an unclosed bracket or quote where
   * it opens, a tab at the tab), one error per mistake.
   */
  PARSE: 'E_PARSE',
  /** The same key appears twice in one mapping/object. */
  DUPLICATE_KEY: 'E_DUPLICATE_KEY',
  /** Nesting deeper than 64 levels (or a cyclic value). */
  TOO_DEEP: 'E_TOO_DEEP',
  /** YAML aliases expand too much (a "billion laughs" document). */
  ALIAS_LIMIT: 'E_ALIAS_LIMIT',
  /** `version` has a major other than 1. */
  VERSION: 'E_VERSION',
  /** The document does not match the published JSON Schema; an unknown field suggests the one it may misspell. */
  SCHEMA: 'E_SCHEMA',
  DUPLICATE_STEP_ID: 'E_DUPLICATE_STEP_ID',
  /** A dependency, template, expression or fallbackStepId names a step that does not exist. */
  UNKNOWN_STEP: 'E_UNKNOWN_STEP',
  CYCLE: 'E_CYCLE',
  /** A step reads a step that is not (transitively) among its dependencies. */
  NOT_UPSTREAM: 'E_NOT_UPSTREAM',
  /** `onError: fallback` without `fallbackStepId`. */
  FALLBACK_MISSING: 'E_FALLBACK_MISSING',
  /** A fallback that can never run: itself, upstream of its step, shared, cyclic, or set without `onError: fallback`. */
  FALLBACK_INVALID: 'E_FALLBACK_INVALID',
  /** `${env.X}` where X is not in `context.environment`. */
  ENV_NOT_ALLOWED: 'E_ENV_NOT_ALLOWED',
  /** `${secrets.X}` where X is not in `context.secretRefs`. */
  UNKNOWN_SECRET: 'E_UNKNOWN_SECRET',
  /** `${variables.x}` with no such variable and no `??` default. */
  UNKNOWN_VARIABLE: 'E_UNKNOWN_VARIABLE',
  /** `${inputs.x}` where the inputs schema forbids x (additionalProperties: false). */
  UNKNOWN_INPUT: 'E_UNKNOWN_INPUT',
  /** A condition does not parse or names something unknown. */
  EXPRESSION: 'E_EXPRESSION',
  /** A `${...}` template does not parse, or reads what does not exist there: `trigger.*` outside a document's triggers, or a field the trigger's kind does not carry. */
  TEMPLATE: 'E_TEMPLATE',
  /** A path uses `__proto__`, `constructor` or `prototype`. */
  FORBIDDEN_PATH: 'E_FORBIDDEN_PATH',
  /** `forEach.items` is known not to be an array. */
  FOREACH_NOT_ARRAY: 'E_FOREACH_NOT_ARRAY',
  /** `${item}` / `${index}` used where no forEach item exists. */
  ITEM_OUTSIDE_FOREACH: 'E_ITEM_OUTSIDE_FOREACH',
  /**
   * An agent id that is not among the known agents. Without a project config or `--agents`,
   * `validate` knows only the built-in and standard agents: it checks `@orchestr8/` ids (and
   * look-alikes) and lists the others as not checked.
   */
  UNKNOWN_AGENT: 'E_UNKNOWN_AGENT',
  /**
   * Execution inputs that do not match the workflow's `inputs` schema, one per problem. They
   * come inside a `VALIDATION` error; over HTTP, a 422 problem lists them under `errors`.
   */
  INPUTS: 'E_INPUTS',
  /** A trigger that cannot work: a bad cron expression or timezone, a cron expression no date matches (`0 0 31 2 *`), not exactly one of schedule/webhook/event, a duplicate name, an unknown signing secret. */
  TRIGGER: 'E_TRIGGER',
  /** A wait that cannot work: a step with both or neither of agent and wait, not exactly one kind of wait, a time that is not ISO-8601, a wait in a forEach step, or `event.*` read outside a wait's match. */
  WAIT: 'E_WAIT',
} as const;
export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  /** RFC 6901 JSON pointer to the node at fault (`''` is the whole document). */
  pointer: string;
  file?: string;
  /** 1-based, only when the document was loaded from text. */
  line?: number;
  /** 1-based, only when the document was loaded from text. */
  column?: number;
  hint?: string;
}

/**
 * A diagnostic while it is being collected. `atKey` says the position is that of the
 * mapping key named by the pointer's last segment (unknown and duplicate fields), not of
 * its value; `offset` is a known text offset (parse errors).
 */
export interface PendingDiagnostic extends Diagnostic {
  atKey?: boolean;
  offset?: number;
}

export function error(
  code: DiagnosticCode,
  pointer: string,
  message: string,
  extra: { hint?: string | undefined; atKey?: boolean; offset?: number } = {},
): PendingDiagnostic {
  const d: PendingDiagnostic = { code, severity: 'error', message, pointer };
  if (extra.hint !== undefined) d.hint = extra.hint;
  if (extra.atKey) d.atKey = true;
  if (extra.offset !== undefined) d.offset = extra.offset;
  return d;
}

/** `/a~1b/0` from `['a/b', 0]`. */
export function toPointer(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) out += `/${escapePointerSegment(String(s))}`;
  return out;
}

export function escapePointerSegment(s: string): string {
  return s.includes('~') || s.includes('/') ? s.replace(/~/g, '~0').replace(/\//g, '~1') : s;
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => (s.includes('~') ? s.replace(/~1/g, '/').replace(/~0/g, '~') : s));
}

/**
 * One line like a compiler's, plus an indented hint line when there is a hint:
 * `workflows/x.yaml:12:5 error E_UNKNOWN_STEP step "b" reads steps.zz, which does not exist (at /steps/1/input/message)`.
 */
export function formatDiagnostic(d: Diagnostic): string {
  let where = d.file ?? '';
  if (d.line !== undefined) where += `${where ? ':' : ''}${d.line}:${d.column ?? 1}`;
  const head = `${where ? `${where} ` : ''}${d.severity} ${d.code} ${d.message} (at ${d.pointer || '/'})`;
  return d.hint ? `${head}\n  hint: ${d.hint}` : head;
}

/** `a, b, c` (or the first `max` of them and a count). */
export function listNames(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (${names.length - max} more)` : shown;
}
