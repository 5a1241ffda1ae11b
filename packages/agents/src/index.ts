/**
 * @module @orchestr8/agents
 * The standard agents every orchestr8 host registers: HTTP calls, shell commands, data
 * transforms, LLM prompts and sub-workflows; and `createRemoteAgent`, the client of the
 * remote agent protocol (`orchestr8 agent serve`).
 *
 * @example
 * import { createAgentRegistry, builtinAgents } from '@orchestr8/agent-base';
 * import { createRemoteAgent, standardAgents } from '@orchestr8/agents';
 * import { createEngine } from '@orchestr8/core';
 * const engine = createEngine({
 *   registry: createAgentRegistry([...builtinAgents, ...standardAgents]),
 *   remoteAgent: (url, id) => createRemoteAgent(url, id),
 * });
 */
import type { Agent } from '@orchestr8/core';
import { httpAgent } from './http-agent.js';
import { llmAgent } from './llm-agent.js';
import { shellAgent } from './shell-agent.js';
import { transformAgent } from './transform-agent.js';
import { workflowAgent } from './workflow-agent.js';

export { checkEgressAllow, EGRESS_GRANT, type EgressResolver, egressDispatcher } from './egress.js';
export {
  HTTP_DEFAULT_MAX_RESPONSE_BYTES,
  HTTP_SECRET_FIELDS,
  type HttpInput,
  type HttpOutput,
  httpAgent,
} from './http-agent.js';
export { parseRetryAfter } from './http-util.js';
export {
  RUN_ISOLATED_DEFAULT_TIMEOUT_MS,
  type RunIsolatedOptions,
  runIsolated,
} from './isolation.js';
export {
  closeIsolation,
  configureIsolation,
  ISOLATION_MEMORY_ENV,
  ISOLATION_WORKERS_ENV,
  type IsolationOptions,
} from './isolation-pool.js';
export {
  LLM_DEFAULT_MAX_TOKENS,
  LLM_DEFAULT_TIMEOUT_MS,
  LLM_PROVIDER_ENV,
  type LlmInput,
  type LlmOutput,
  llmAgent,
} from './llm-agent.js';
export { mockText, synthesize } from './llm-mock.js';
export { buildPrompt, type LlmPrompt, type RenderedPrompt, readJson } from './llm-prompt.js';
export type { Usage } from './llm-providers.js';
export {
  createRemoteAgent,
  type RemoteAgentOptions,
  type RemoteExecuteRequest,
  type RemoteExecuteResponse,
  type RemoteProblem,
} from './remote-agent.js';
export {
  SHELL_ALLOW_ENV,
  SHELL_DEFAULT_MAX_OUTPUT_BYTES,
  SHELL_DEFAULT_TIMEOUT_MS,
  type ShellInput,
  type ShellOutput,
  shellAgent,
  shellAllowlist,
} from './shell-agent.js';
export {
  TRANSFORM_DEFAULT_MAX_DEPTH,
  TRANSFORM_DEFAULT_TIMEOUT_MS,
  type TransformInput,
  type TransformOutput,
  transformAgent,
} from './transform-agent.js';
export { type WorkflowInput, type WorkflowOutput, workflowAgent } from './workflow-agent.js';

export const standardAgents: readonly Agent[] = [
  httpAgent,
  shellAgent,
  transformAgent,
  llmAgent,
  workflowAgent,
];
