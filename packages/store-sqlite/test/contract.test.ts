import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineOperationsContract } from '../../core/test/operations-contract.js';
import { defineStoreContract } from '../../core/test/store-contract.js';
import { openSqliteStore } from '../src/index.js';

defineStoreContract(
  'sqlite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orchestr8-sqlite-'));
    const path = join(dir, 'store.db');
    return {
      store: await openSqliteStore({ path }),
      reopen: () => openSqliteStore({ path }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { durable: true },
);

defineStoreContract('sqlite (:memory:)', async () => ({
  store: await openSqliteStore({ path: ':memory:' }),
}));

defineOperationsContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-sqlite-'));
  return {
    store: await openSqliteStore({ path: join(dir, 'store.db') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
