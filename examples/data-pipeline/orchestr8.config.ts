import { defineConfig } from '@orchestr8/cli/config';

export default defineConfig({
  agents: ['./src/agents.ts'],
  store: 'sqlite:./.orchestr8/data-pipeline.db',
});
