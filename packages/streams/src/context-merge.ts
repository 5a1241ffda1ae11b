/**
 * The shared context: crews read the slice's starting snapshot and return writes; the
 * writes are merged at the end of the slice, by each key's policy, in an order that does
 * not depend on which crew finished first.
 */
import { canonicalJson } from '@orchestr8/schema';
import { type MergePolicy, NAME_PATTERN } from './stream-schema.js';

export type ContextValues = Record<string, unknown>;

/** One crew's writes in one slice. */
export interface ContextWrite {
  crew: string;
  /** The crew's position in the document: the later crew wins a tie. */
  crewIndex: number;
  /** The newest event the crew handled: the newer write wins (last writer wins). */
  ts: number;
  values: ContextValues;
}

export function policyOf(key: string, policies: Readonly<Record<string, MergePolicy>>): MergePolicy {
  return Object.hasOwn(policies, key) ? policies[key]! : 'lww';
}

/** Why a crew's writes cannot be merged, or undefined when they can. */
export function checkContextWrite(
  values: unknown,
  policies: Readonly<Record<string, MergePolicy>>,
): string | undefined {
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    return 'context must be an object of key: value';
  for (const [key, value] of Object.entries(values)) {
    if (!NAME_PATTERN.test(key)) return `context key "${key}" must be letters, digits, "_" and "-"`;
    const policy = policyOf(key, policies);
    if (policy === 'counter' && (typeof value !== 'number' || !Number.isFinite(value)))
      return `context key "${key}" is a counter: write a number to add`;
    if (policy === 'union' && !Array.isArray(value))
      return `context key "${key}" is a union: write an array of items to add`;
  }
  return undefined;
}

/**
 * Applies a slice's writes to the context (a new object; the input is not changed).
 * lww: the write with the newest `ts` wins, a tie goes to the later crew; null deletes.
 * counter: writes add. union: items not yet present are appended, in crew order.
 */
export function mergeWrites(
  context: ContextValues,
  writes: readonly ContextWrite[],
  policies: Readonly<Record<string, MergePolicy>>,
): ContextValues {
  const next: ContextValues = { ...context };
  const ordered = [...writes].sort((a, b) => a.crewIndex - b.crewIndex);
  const lww = new Map<string, ContextWrite>();
  for (const w of ordered) {
    for (const [key, value] of Object.entries(w.values)) {
      const policy = policyOf(key, policies);
      if (policy === 'counter') {
        const before = typeof next[key] === 'number' ? (next[key] as number) : 0;
        next[key] = before + (value as number);
      } else if (policy === 'union') {
        const before = Array.isArray(next[key]) ? (next[key] as unknown[]) : [];
        const seen = new Set(before.map((v) => canonicalJson(v)));
        const out = [...before];
        for (const item of value as unknown[]) {
          const k = canonicalJson(item);
          if (!seen.has(k)) {
            seen.add(k);
            out.push(item);
          }
        }
        next[key] = out;
      } else {
        const held = lww.get(key);
        // Crews come in document order, so >= lets the later crew win a tie.
        if (!held || w.ts >= held.ts) lww.set(key, w);
      }
    }
  }
  for (const [key, w] of lww) {
    const value = w.values[key];
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
