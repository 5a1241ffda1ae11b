/**
 * A run form generated from a workflow's `inputs` JSON Schema. Each top-level property is a
 * field: a text box, a number box, a checkbox, a list to choose from (`enum`), or a JSON box
 * for arrays and objects. The form turns what was typed into typed inputs and refuses what
 * the schema's simple keywords rule out (required, type, enum, bounds, lengths, pattern),
 * naming the field; the server then checks the whole schema (ajv) and its answer is shown too.
 */

export type FieldKind = 'text' | 'number' | 'integer' | 'boolean' | 'select' | 'json';

export interface FormField {
  name: string;
  kind: FieldKind;
  label: string;
  required: boolean;
  description?: string;
  options?: string[];
  default?: unknown;
  schema: Record<string, unknown>;
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function typeOf(schema: Record<string, unknown>): string | undefined {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.find((x) => x !== 'null') as string | undefined;
  return undefined;
}

export function formFields(inputsSchema: unknown): FormField[] {
  const schema = asRecord(inputsSchema);
  const props = asRecord(schema.properties);
  const required = new Set(
    Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : [],
  );
  return Object.entries(props).map(([name, raw]) => {
    const s = asRecord(raw);
    const t = typeOf(s);
    let kind: FieldKind = 'text';
    if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) kind = 'select';
    else if (t === 'integer') kind = 'integer';
    else if (t === 'number') kind = 'number';
    else if (t === 'boolean') kind = 'boolean';
    else if (t === 'array' || t === 'object' || (t === undefined && s.type !== undefined)) kind = 'json';
    const field: FormField = {
      name,
      kind,
      label: typeof s.title === 'string' ? s.title : name,
      required: required.has(name),
      schema: s,
    };
    if (typeof s.description === 'string') field.description = s.description;
    if (kind === 'select') field.options = s.enum as string[];
    if (s.default !== undefined) field.default = s.default;
    return field;
  });
}

/** The text a field starts with: its default, shown as it would be typed. */
export function initialValue(field: FormField): string {
  if (field.default === undefined) return field.kind === 'boolean' ? 'false' : '';
  if (field.kind === 'json') return JSON.stringify(field.default, null, 2);
  return String(field.default);
}

export type FormResult =
  | { ok: true; inputs: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

function checkString(f: FormField, v: string): string | undefined {
  const s = f.schema;
  if (typeof s.minLength === 'number' && v.length < s.minLength)
    return `must be at least ${s.minLength} characters`;
  if (typeof s.maxLength === 'number' && v.length > s.maxLength)
    return `must be at most ${s.maxLength} characters`;
  if (typeof s.pattern === 'string') {
    try {
      if (!new RegExp(s.pattern, 'u').test(v)) return `must match the pattern ${s.pattern}`;
    } catch {
      // a pattern this browser cannot compile: the server decides
    }
  }
  return undefined;
}

function checkNumber(f: FormField, n: number): string | undefined {
  const s = f.schema;
  if (typeof s.minimum === 'number' && n < s.minimum) return `must be at least ${s.minimum}`;
  if (typeof s.maximum === 'number' && n > s.maximum) return `must be at most ${s.maximum}`;
  if (typeof s.exclusiveMinimum === 'number' && n <= s.exclusiveMinimum)
    return `must be greater than ${s.exclusiveMinimum}`;
  if (typeof s.exclusiveMaximum === 'number' && n >= s.exclusiveMaximum)
    return `must be less than ${s.exclusiveMaximum}`;
  return undefined;
}

/** Turns the typed values (name -> text) into inputs, or says which fields are wrong and why. */
export function readForm(fields: readonly FormField[], values: Readonly<Record<string, string>>): FormResult {
  const inputs: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = values[f.name] ?? '';
    const empty = raw.trim() === '';
    if (f.kind === 'boolean') {
      inputs[f.name] = raw === 'true';
      continue;
    }
    if (empty) {
      if (f.required) errors[f.name] = 'is required';
      continue;
    }
    switch (f.kind) {
      case 'text': {
        const problem = checkString(f, raw);
        if (problem) errors[f.name] = problem;
        else inputs[f.name] = raw;
        break;
      }
      case 'select':
        if (!f.options?.includes(raw)) errors[f.name] = `must be one of ${f.options?.join(', ')}`;
        else inputs[f.name] = raw;
        break;
      case 'number':
      case 'integer': {
        const n = Number(raw.trim());
        if (!Number.isFinite(n)) errors[f.name] = 'must be a number';
        else if (f.kind === 'integer' && !Number.isInteger(n)) errors[f.name] = 'must be a whole number';
        else {
          const problem = checkNumber(f, n);
          if (problem) errors[f.name] = problem;
          else inputs[f.name] = n;
        }
        break;
      }
      case 'json': {
        let v: unknown;
        try {
          v = JSON.parse(raw);
        } catch (e) {
          errors[f.name] = `is not valid JSON: ${(e as Error).message}`;
          break;
        }
        const t = typeOf(f.schema);
        if (t === 'array' && !Array.isArray(v)) errors[f.name] = 'must be a JSON array';
        else if (t === 'object' && (v === null || typeof v !== 'object' || Array.isArray(v)))
          errors[f.name] = 'must be a JSON object';
        else inputs[f.name] = v;
        break;
      }
    }
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, inputs };
}
