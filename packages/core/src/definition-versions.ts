import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { DefinitionRecord } from './types.js';

/**
 * The "latest version" of a workflow among its stored definitions: one rule for every store
 * (memory, SQLite and PostgreSQL use this function; the contract suite checks they agree).
 */

type SemVer = { core: number[]; pre: string[] };

const SEMVER = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parseVersion(version: string): SemVer | undefined {
  const m = SEMVER.exec(version);
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)], pre: m[4] ? m[4].split('.') : [] };
}

function compareSemVer(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) {
    const d = a.core[i]! - b.core[i]!;
    if (d !== 0) return d;
  }
  // A release ranks above its prereleases.
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    const d = xn && yn ? Number(x) - Number(y) : xn ? -1 : yn ? 1 : compareStrings(x, y);
    if (d !== 0) return d;
  }
  return a.pre.length - b.pre.length;
}

/**
 * The newest definition: the highest semantic version when every version of the workflow
 * parses as one (`1`, `1.2`, `v1.2.3`, `2.0.0-rc.1`), otherwise the most recently stored.
 */
export function latestDefinition(versions: readonly DefinitionRecord[]): DefinitionRecord | undefined {
  const parsed = versions.map((d) => parseVersion(d.version));
  const allSemVer = parsed.every((p) => p !== undefined);
  let best: number | undefined;
  for (let i = 0; i < versions.length; i++) {
    if (best === undefined) {
      best = i;
      continue;
    }
    const a = versions[i]!;
    const b = versions[best]!;
    const d =
      (allSemVer ? compareSemVer(parsed[i]!, parsed[best]!) : 0) ||
      a.createdAt - b.createdAt ||
      compareStrings(a.version, b.version);
    if (d > 0) best = i;
  }
  return best === undefined ? undefined : versions[best];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Storing `wanted` where a different document is stored under its id and version: every store refuses it so. */
export function definitionConflict(wanted: DefinitionRecord, existing: DefinitionRecord): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.CONFLICT,
    `workflow ${wanted.id} version ${wanted.version} is already stored with a different document ` +
      `(hash ${existing.hash}, not ${wanted.hash}); bump the version to change it`,
    { details: { id: wanted.id, version: wanted.version, existingHash: existing.hash, hash: wanted.hash } },
  );
}
