import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

/** Where `sqlite:` with no path (and an empty store URL) puts the database. */
export const DEFAULT_SQLITE_PATH = './.orchestr8/orchestr8.db';

export type StoreUrl =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string };

/**
 * Reads a `--store` / `ORCHESTR8_STORE` value:
 * - `memory`
 * - `sqlite:path`, `sqlite://path`, `file:path`, `file://path` (`sqlite:///abs/path` is absolute)
 * - a bare path ending in `.db`, `.sqlite` or `.sqlite3`
 * - `postgres://...`, `postgresql://...` (returned unchanged)
 * An empty value, `sqlite:` or `sqlite://` means {@link DEFAULT_SQLITE_PATH}.
 */
export function parseStoreUrl(url: string): StoreUrl {
  const value = url.trim();
  if (value === '') return { kind: 'sqlite', path: DEFAULT_SQLITE_PATH };
  const lower = value.toLowerCase();
  if (lower === 'memory' || lower === 'memory:' || lower === 'memory://') return { kind: 'memory' };
  if (lower.startsWith('postgres://') || lower.startsWith('postgresql://'))
    return { kind: 'postgres', url: value };
  for (const scheme of ['sqlite:', 'file:']) {
    if (!lower.startsWith(scheme)) continue;
    let path = value.slice(scheme.length);
    if (path.startsWith('//')) path = path.slice(2);
    return { kind: 'sqlite', path: path === '' ? DEFAULT_SQLITE_PATH : path };
  }
  if (/\.(db|sqlite|sqlite3)$/i.test(value) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return { kind: 'sqlite', path: value };
  }
  throw new Orchestr8Error(
    ErrorCode.VALIDATION,
    `unrecognised store "${url}": use "memory", "sqlite:<path>", a path ending in .db or .sqlite, ` +
      'or "postgres://..."',
  );
}
