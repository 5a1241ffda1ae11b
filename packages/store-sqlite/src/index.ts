/**
 * @module @orchestr8/store-sqlite
 * The embedded, durable orchestr8 store: one SQLite file in WAL mode, one transaction per
 * engine batch (group commit), versioned migrations applied on open.
 *
 * @example
 * import { openSqliteStore, parseStoreUrl } from '@orchestr8/store-sqlite';
 * const target = parseStoreUrl(process.env.ORCHESTR8_STORE ?? 'sqlite:./.orchestr8/orchestr8.db');
 * if (target.kind === 'sqlite') {
 *   const store = await openSqliteStore({ path: target.path });
 *   // ... hand `store` to the engine; on shutdown:
 *   await store.close();
 * }
 */
export { LATEST_SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from './migrations.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite-open.js';
export type { SqliteStore } from './sqlite-store.js';
export { DEFAULT_SQLITE_PATH, parseStoreUrl, type StoreUrl } from './store-url.js';
