import { defineOperationsContract } from '../../core/test/operations-contract.js';
import { defineStoreContract } from '../../core/test/store-contract.js';
import { openPostgresStore } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

// A fresh schema per test: as isolated as a new database, and much quicker to make.
defineStoreContract(
  'postgres',
  async () => {
    const url = server.freshSchemaUrl();
    return { store: await openPostgresStore({ url }), reopen: () => openPostgresStore({ url }) };
  },
  { durable: true },
);

defineOperationsContract('postgres', async () => ({
  store: await openPostgresStore({ url: server.freshSchemaUrl() }),
}));
