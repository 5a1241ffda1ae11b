import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { createMemoryStore, type Store } from '@orchestr8/core';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { openSqliteStore, parseStoreUrl } from '@orchestr8/store-sqlite';

export const DEFAULT_STORE = 'sqlite:./.orchestr8/orchestr8.db';

/** `--store`, then `ORCHESTR8_STORE`, then the embedded SQLite file. */
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
