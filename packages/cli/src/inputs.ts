import { readFile } from 'node:fs/promises';
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
