/**
 * @module @orchestr8/mcp
 * orchestr8 for AI assistants, over the Model Context Protocol: one tool per exposed
 * workflow (its inputs JSON Schema as the tool's input schema; the answer is its outputs,
 * or the execution id and status when it runs long), generic tools to start, follow, list
 * and cancel executions, read journals, validate documents and decide approvals, and
 * resources for workflow documents and journals. Served over stdio (`orchestr8 mcp`) or
 * streamable HTTP (`/mcp` in `orchestr8 serve`, behind its auth and Host/Origin checks).
 * Capabilities apply to everything a tool starts, exactly as to HTTP callers.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { createMcpService, serveStdio } from '@orchestr8/mcp';
 *
 * const engine = createEngine({ registry });
 * const service = createMcpService({ engine, expose: ['hello-world'] });
 * const session = await serveStdio(service);
 * await session.closed;
 */
export { agentToolName, agentTools } from './agent-tools.js';
export { type AskHandlerOptions, createAskHandler } from './ask-handler.js';
export { type ExposedWorkflow, type Exposure, toolNameFor } from './catalog.js';
export { createMcpService, DEFAULT_TOOL_WAIT_MS, type McpOptions, type McpService } from './mcp-server.js';
export {
  DEFAULT_MAX_REPAIRS,
  type Plan,
  type PlanAttempt,
  type PlannerAgent,
  type PlanOptions,
  type PlanPrompt,
  plannerAgent,
  planPrompt,
  planText,
  planWorkflow,
} from './planner.js';
export {
  createMcpHttpHandler,
  type McpHttpOptions,
  type StdioSession,
  serveStdio,
} from './transports.js';
