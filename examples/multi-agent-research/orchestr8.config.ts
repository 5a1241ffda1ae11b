import { defineConfig } from '@orchestr8/cli/config';

export default defineConfig({
  agents: ['./src/agents.ts'],
  store: 'sqlite:./.orchestr8/research.db',
  // The workflow reads its LLM key from this variable (context.secretRefs); documents read
  // only the variables the operator lists here.
  capabilities: { env: ['RESEARCH_LLM_API_KEY'] },
});
