import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { CompiledWorkflow } from './compiled.js';
import { type Diagnostic, DiagnosticCode, escapePointerSegment } from './diagnostics.js';
import { getUserSchemaAjv } from './schema-validator.js';
import { closest } from './suggest.js';

/** One ajv function per workflow, compiled on first use. */
const validators = new WeakMap<CompiledWorkflow, ValidateFunction | null>();

function validatorFor(workflow: CompiledWorkflow): ValidateFunction | null {
  let v = validators.get(workflow);
  if (v === undefined) {
    const schema = workflow.document.inputs;
    if (schema) {
      const ajv = getUserSchemaAjv();
      v = ajv.compile(schema);
      // ajv keeps every compiled schema in a strong cache; a server compiling many inline
      // workflows would grow without bound. The compiled function lives on without it.
      ajv.removeSchema(schema);
    } else v = null;
    validators.set(workflow, v);
  }
  return v;
}

function cloneJson(value: unknown): unknown {
  if (value === undefined || value === null || typeof value !== 'object') return value;
  try {
    return structuredClone(value);
  } catch {
    return JSON.parse(JSON.stringify(value));
  }
}

/**
 * Checks execution inputs against the workflow's `inputs` JSON Schema and returns them
 * with the schema's defaults applied (on a copy: the caller's object is not changed).
 * Pointers are under `/inputs`, e.g. `/inputs/name`.
 */
export function validateAndDefaultInputs(
  workflow: CompiledWorkflow,
  inputs: unknown,
): { diagnostics: Diagnostic[]; value: unknown } {
  const validate = validatorFor(workflow);
  if (!validate) return { diagnostics: [], value: inputs };
  const value = cloneJson(inputs);
  if (validate(value)) return { diagnostics: [], value };
  const diagnostics = (validate.errors ?? []).map((e): Diagnostic => {
    const params = e.params as Record<string, unknown>;
    let pointer = `/inputs${e.instancePath}`;
    let message = e.message ?? 'is invalid';
    let hint: string | undefined;
    if (e.keyword === 'required') message = `missing required input "${String(params.missingProperty)}"`;
    else if (e.keyword === 'additionalProperties') {
      const name = String(params.additionalProperty);
      pointer += `/${escapePointerSegment(name)}`;
      message = `unknown input "${name}"`;
      // A misspelt top-level input: named with the one meant.
      const guess = e.instancePath === '' ? closest(name, declaredInputs(workflow)) : undefined;
      if (guess !== undefined) hint = `did you mean "${guess}"?`;
    } else if (e.keyword === 'enum')
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return { code: DiagnosticCode.INPUTS, severity: 'error', message, pointer, ...(hint ? { hint } : {}) };
  });
  return { diagnostics, value };
}

/** The names the workflow's `inputs` schema declares at its top level. */
function declaredInputs(workflow: CompiledWorkflow): string[] {
  const properties = (workflow.document.inputs as { properties?: unknown } | undefined)?.properties;
  return typeof properties === 'object' && properties !== null ? Object.keys(properties) : [];
}

/** The diagnostics of validateAndDefaultInputs, without the defaulted value. */
export function validateInputs(workflow: CompiledWorkflow, inputs: unknown): Diagnostic[] {
  return validateAndDefaultInputs(workflow, inputs).diagnostics;
}
