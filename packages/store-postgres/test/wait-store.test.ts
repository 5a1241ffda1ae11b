import { defineWaitStoreContract } from '../../core/test/wait-store-contract.js';
import { openPostgresStore } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

defineWaitStoreContract('postgres', async () => ({
  store: await openPostgresStore({ url: server.freshSchemaUrl() }),
}));
