import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { createMemoryStore, type Store } from '@orchestr8/core';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { openSqliteStore, parseStoreUrl } from '@orchestr8/store-sqlite';

export const DEFAULT_STORE = 'sqlite:./.orchestr8/orchestr8.db';

/**
 * The `--store` help of every command that reads or writes executions: they all resolve the
 * store the same way (`configuredStore` / `storeFlag` in config.ts).
 */
export const STORE_OPTION_HELP =
  "where executions are recorded: sqlite:<path>, postgres://... or memory (default: $ORCHESTR8_STORE, else the project config's store, else sqlite:./.orchestr8/orchestr8.db)";

/**
 * `--store`, then `ORCHESTR8_STORE`, then the embedded SQLite file. Commands pass the flag
 * through `storeFlag` (config.ts) so the project config's `store` comes before the default.
 */
export function storeSpec(flag: string | undefined): string {
  return flag ?? process.env.ORCHESTR8_STORE ?? DEFAULT_STORE;
}

export async function openStore(spec: string): Promise<Store> {
  const parsed = parseStoreUrl(spec);
  if (parsed.kind === 'memory') return createMemoryStore();
  if (parsed.kind === 'sqlite') {
    const path = resolve(parsed.path);
    mkdirSync(dirname(path), { recursive: true });
    return openSqliteStore({ path });
  }
  if (parsed.kind === 'postgres') return openPostgresStore({ url: parsed.url });
  throw new Orchestr8Error(
    ErrorCode.VALIDATION,
    `store "${spec}" is not supported by this build (use sqlite:<path>, postgres://... or memory)`,
  );
}
