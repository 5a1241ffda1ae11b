import { defineConfig } from '@orchestr8/cli/config';

export default defineConfig({
  agents: ['./src/agents.ts'],
  store: 'sqlite:./.orchestr8/data-pipeline.db',
  // The fixture server runs on loopback, which documents may not reach unless the operator
  // (this file, not a document) allows it.
  capabilities: { egress: { allow: ['127.0.0.1', 'localhost'] } },
});
