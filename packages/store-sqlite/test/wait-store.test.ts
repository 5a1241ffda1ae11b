import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineWaitStoreContract } from '../../core/test/wait-store-contract.js';
import { openSqliteStore } from '../src/index.js';

defineWaitStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-sqlite-waits-'));
  return {
    store: await openSqliteStore({ path: join(dir, 'store.db') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
