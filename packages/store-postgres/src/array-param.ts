/**
 * Array parameters as PostgreSQL array literals, written by `JSON.stringify`.
 *
 * `pg` turns an array parameter into the literal `{"a","b"}` element by element in
 * JavaScript (two regular-expression replaces and a concatenation per element). Our
 * writes pass one array per column (`unnest`), thousands of elements a round, and that
 * encoding was the largest part of a worker's own work per statement. A JSON array of
 * strings, numbers, booleans and nulls is already the same literal but for its brackets:
 * inside double quotes both JSON and PostgreSQL escape `"` and `\` with a backslash, and
 * PostgreSQL reads an unquoted `null` element as NULL. JSON writes other escapes too
 * (control characters, lone surrogates), which PostgreSQL would read differently: an array
 * holding such a string, or anything but those scalars, is left to `pg`.
 */

/** What JSON.stringify escapes other than `"` and `\`: control characters and lone surrogates. */
const ESCAPED_BY_JSON =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The literal of `values` when JSON writes it as PostgreSQL reads it, else `values`
 * unchanged (for `pg` to encode).
 */
export function arrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    switch (typeof v) {
      case 'string':
        if (ESCAPED_BY_JSON.test(v)) return values;
        break;
      case 'number':
        // JSON writes NaN and the infinities as null.
        if (!Number.isFinite(v)) return values;
        break;
      case 'boolean':
      case 'undefined':
        break;
      default:
        if (v !== null) return values;
    }
  }
  const json = JSON.stringify(values);
  return `{${json.slice(1, -1)}}`;
}

/** `values` with each array parameter as its literal where {@link arrayLiteral} can. */
export function encodeParams(values: readonly unknown[] | undefined): unknown[] {
  if (!values) return [];
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Array.isArray(v)) continue;
    const literal = arrayLiteral(v);
    if (literal === v) continue;
    out ??= [...values];
    out[i] = literal;
  }
  return out ?? (values as unknown[]);
}
