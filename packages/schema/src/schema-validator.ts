import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import {
  DiagnosticCode,
  error,
  escapePointerSegment,
  listNames,
  type PendingDiagnostic,
} from './diagnostics.js';
import { DURATION_PATTERN, POSITIVE_DURATION_PATTERN } from './duration.js';
import { getWorkflowJsonSchema } from './json-schema.js';
import {
  AGENT_ID_PATTERN,
  ENV_NAME_PATTERN,
  QUEUE_PATTERN,
  SEMVER_PATTERN,
  STEP_ID_PATTERN,
  WORKFLOW_ID_PATTERN,
} from './patterns.js';
import { closest } from './suggest.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule.default }).default;

let workflowValidator: ValidateFunction | undefined;

/** The ajv validator of the published schema, compiled once per process. */
function getWorkflowValidator(): ValidateFunction {
  if (!workflowValidator) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false });
    addFormats(ajv, ['uri']);
    workflowValidator = ajv.compile(getWorkflowJsonSchema());
  }
  return workflowValidator;
}

let userAjv: Ajv2020 | undefined;

/**
 * The ajv instance for schemas written by users (`inputs`, `output.schema`): formats on,
 * unknown keywords allowed (editors add their own), defaults applied.
 */
export function getUserSchemaAjv(): Ajv2020 {
  if (!userAjv) {
    userAjv = new Ajv2020({ allErrors: true, strict: false, useDefaults: true });
    addFormats(userAjv);
  }
  return userAjv;
}

/** Checks a user-written JSON Schema against the 2020-12 meta-schema; returns readable problems. */
export function checkUserSchema(schema: unknown): string[] {
  const ajv = getUserSchemaAjv();
  if (ajv.validateSchema(schema as object)) return [];
  return (ajv.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

const PATTERN_TEXT = new Map<string, string>([
  [SEMVER_PATTERN.source, 'must be a semantic version like "1.0.0"'],
  [STEP_ID_PATTERN.source, 'must be an id of letters, digits, "_" and "-"'],
  [WORKFLOW_ID_PATTERN.source, 'must be an id of letters, digits, "_", "." and "-"'],
  [AGENT_ID_PATTERN.source, 'must be an agent id like "@scope/name" (lowercase)'],
  [ENV_NAME_PATTERN.source, 'must be a name of letters, digits and "_", not starting with a digit'],
  [QUEUE_PATTERN.source, 'must be a queue name of letters, digits, "_", ".", ":" and "-"'],
  [
    DURATION_PATTERN.source,
    'must be a duration like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
  ],
  [
    POSITIVE_DURATION_PATTERN.source,
    'must be a duration greater than zero like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
  ],
]);

/** Validates a parsed document against the published schema; one readable diagnostic per problem. */
export function validateAgainstSchema(value: unknown): PendingDiagnostic[] {
  const validate = getWorkflowValidator();
  if (validate(value)) return [];
  return condense(validate.errors ?? []).map(toDiagnostic);
}

/** The schema problems of a value, condensed (one per problem), as ajv describes them. */
export function schemaErrors(value: unknown): ErrorObject[] {
  const validate = getWorkflowValidator();
  return validate(value) ? [] : condense(validate.errors ?? []);
}

function typesOf(e: ErrorObject): string[] {
  const t = (e.params as { type?: string | string[] }).type;
  return t === undefined ? [] : Array.isArray(t) ? t : t.split(',');
}

function isUnion(e: ErrorObject): boolean {
  return e.keyword === 'anyOf' || e.keyword === 'oneOf';
}

/**
 * ajv reports every failing branch of a union. Keep only what helps: the errors of the
 * branch whose type matched the value, or one "must be A or B" when none did.
 */
export function condense(errors: readonly ErrorObject[]): ErrorObject[] {
  let list = errors.slice();
  const unions = list.filter(isUnion).sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const u of unions) {
    if (!list.includes(u)) continue;
    const prefix = `${u.schemaPath}/`;
    const within = (e: ErrorObject) =>
      e !== u &&
      e.schemaPath.startsWith(prefix) &&
      (e.instancePath === u.instancePath || e.instancePath.startsWith(`${u.instancePath}/`));
    const branches = new Map<number, ErrorObject[]>();
    for (const e of list) {
      if (!within(e)) continue;
      const index = Number.parseInt(e.schemaPath.slice(prefix.length), 10);
      const arr = branches.get(index) ?? [];
      arr.push(e);
      branches.set(index, arr);
    }
    if (u.keyword === 'oneOf' && (u.params as { passingSchemas?: unknown }).passingSchemas) continue;
    const matched = [...branches.values()].filter(
      (errs) => !errs.some((e) => e.keyword === 'type' && e.instancePath === u.instancePath),
    );
    const replacement: ErrorObject[] = [];
    if (matched.length > 0) {
      replacement.push(...matched.reduce((a, b) => (b.length < a.length ? b : a)));
    } else {
      const types = new Set<string>();
      for (const errs of branches.values())
        for (const e of errs) if (e.instancePath === u.instancePath) for (const t of typesOf(e)) types.add(t);
      replacement.push({ ...u, keyword: 'type', params: { type: [...types] } });
    }
    const drop = new Set(list.filter(within));
    const at = list.indexOf(u);
    list = [
      ...list.slice(0, at).filter((e) => !drop.has(e)),
      ...replacement,
      ...list.slice(at + 1).filter((e) => !drop.has(e)),
    ];
  }
  // The same complaint can come from several paths through the schema; a `propertyNames`
  // error only repeats the nested error that says what is wrong with the name.
  const seen = new Set<string>();
  return list.filter((e) => {
    if (e.keyword === 'propertyNames') return false;
    const key = `${e.instancePath}\0${e.propertyName ?? ''}\0${e.keyword}\0${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

export function toDiagnostic(e: ErrorObject): PendingDiagnostic {
  if (e.propertyName !== undefined && e.keyword !== 'propertyNames') {
    // A nested error of `propertyNames`: it is about the key, not the value.
    const inner = toDiagnostic({ ...e, propertyName: undefined });
    inner.pointer = `${e.instancePath}/${escapePointerSegment(e.propertyName)}`;
    inner.message = `invalid name "${e.propertyName}": ${inner.message}`;
    inner.atKey = true;
    return inner;
  }
  const at = e.instancePath;
  const params = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(name, allowed);
      return error(DiagnosticCode.SCHEMA, `${at}/${escapePointerSegment(name)}`, `unknown field "${name}"`, {
        atKey: true,
        hint: guess
          ? `did you mean "${guess}"?`
          : allowed.length
            ? `allowed fields: ${listNames(allowed, 20)}`
            : undefined,
      });
    }
    case 'required':
      return error(DiagnosticCode.SCHEMA, at, `missing required field "${params.missingProperty}"`);
    case 'type': {
      const types = typesOf(e);
      // YAML reads `version: 1` or `flag: yes`... as a number or a boolean: say how to keep the text.
      const value = e.data;
      const unquoted =
        types.includes('string') && (typeof value === 'number' || typeof value === 'boolean')
          ? `quote it to give the text: "${String(value)}"`
          : undefined;
      return error(
        DiagnosticCode.SCHEMA,
        at,
        `must be ${types.join(' or ')}`,
        unquoted ? { hint: unquoted } : {},
      );
    }
    case 'enum':
      return error(DiagnosticCode.SCHEMA, at, `must be one of ${quoteList(params.allowedValues ?? [])}`);
    case 'const':
      return error(DiagnosticCode.SCHEMA, at, `must be ${JSON.stringify(params.allowedValue)}`);
    case 'pattern':
      return error(
        DiagnosticCode.SCHEMA,
        at,
        PATTERN_TEXT.get(String(params.pattern)) ?? `must match the pattern ${params.pattern}`,
      );
    case 'minItems':
      return error(
        DiagnosticCode.SCHEMA,
        at,
        `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}`,
      );
    case 'minLength':
      return error(
        DiagnosticCode.SCHEMA,
        at,
        params.limit === 1 ? 'must not be empty' : (e.message ?? 'is too short'),
      );
    default:
      return error(DiagnosticCode.SCHEMA, at, e.message ?? `is invalid (${e.keyword})`);
  }
}
