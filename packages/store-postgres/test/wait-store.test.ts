import { afterAll, beforeAll } from 'vitest';
import { defineWaitStoreContract } from '../../core/test/wait-store-contract.js';
import { openPostgresStore } from '../src/index.js';
import { type PgServer, startPostgres } from './pg-server.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

defineWaitStoreContract('postgres', async () => ({
  store: await openPostgresStore({ url: server.freshSchemaUrl() }),
}));
