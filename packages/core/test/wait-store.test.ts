import { createMemoryStore } from '../src/index.js';
import { defineWaitStoreContract } from './wait-store-contract.js';

defineWaitStoreContract('memory', async () => ({ store: createMemoryStore() }));
