export const REDACTED = '[redacted]';

/**
 * Replaces secrets in journal data: any string containing a secret value, and any field
 * whose name is listed as secret. Returns the input itself when nothing matched, so the
 * common case (no secrets configured) allocates nothing.
 */
export interface Redactor {
  readonly active: boolean;
  redact(value: unknown): unknown;
}

export const noRedaction: Redactor = { active: false, redact: (v) => v };

export function createRedactor(
  secretValues: Iterable<string>,
  secretFields: Iterable<string> = [],
): Redactor {
  // Very short values would redact half the journal; secrets shorter than 4 chars are ignored.
  const values = [...new Set(secretValues)].filter((v) => typeof v === 'string' && v.length >= 4);
  const fields = new Set(secretFields);
  if (values.length === 0 && fields.size === 0) return noRedaction;
  const redactString = (s: string): string => {
    let out = s;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return values.length ? redactString(value) : value;
    if (typeof value !== 'object' || value === null || depth > 64) return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const r = walk(value[i], depth + 1);
        if (r !== value[i]) {
          copy ??= value.slice();
          copy[i] = r;
        }
      }
      return copy ?? value;
    }
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      const r = fields.has(key) ? REDACTED : walk(v, depth + 1);
      if (r !== v) {
        copy ??= { ...(value as Record<string, unknown>) };
        copy[key] = r;
      }
    }
    return copy ?? value;
  };
  return { active: true, redact: (v) => walk(v, 0) };
}

/** Adds per-step secret field names (from an agent's `secretFields`) to a redactor. */
export function withSecretFields(
  base: Redactor,
  fields: readonly string[] | undefined,
  values: readonly string[],
): Redactor {
  if (!fields || fields.length === 0) return base;
  return createRedactor(values, fields);
}
