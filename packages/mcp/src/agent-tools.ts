/**
 * Agents as MCP tools: the same `defineAgent` object that runs as a workflow step and behind
 * `orchestr8 agent serve` answers a tool call, with its input and output checked against its
 * schemas and its grants narrowed to the operator's capabilities, as the engine does.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import {
  type Agent,
  type AgentContext,
  type Capabilities,
  CapabilityError,
  checkAgainstSchema,
  GrantDenied,
  resolveCapabilities,
} from '@orchestr8/core';
import type { ToolDef } from './generic-tools.js';
import { ok } from './tool-result.js';

/** `@acme/upper` -> `agent_acme_upper` (MCP tool names allow `[A-Za-z0-9_-]`). */
export function agentToolName(agentId: string): string {
  return `agent_${agentId.replace(/^@/, '').replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 64);
}

/** JSON Schemas as they are; zod schemas converted (zod 4); else any object. */
function inputJsonSchema(schema: unknown): Record<string, unknown> {
  if (schema !== null && typeof schema === 'object') {
    const z = schema as { safeParse?: unknown; toJSONSchema?: () => unknown };
    if (typeof z.safeParse !== 'function') return { type: 'object', ...(schema as Record<string, unknown>) };
    try {
      if (typeof z.toJSONSchema === 'function') return z.toJSONSchema() as Record<string, unknown>;
    } catch {
      // not representable: any object
    }
  }
  return { type: 'object' };
}

function stderrLogger(prefix: string): AgentContext['logger'] {
  const log = (level: string) => (message: string, data?: Record<string, unknown>) =>
    process.stderr.write(`[${prefix}] ${level} ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
  return { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };
}

export function agentTools(agents: readonly Agent[], capabilities: Capabilities = {}): ToolDef[] {
  const resolved = resolveCapabilities(capabilities);
  return agents.map((agent) => ({
    name: agentToolName(agent.id),
    title: agent.id,
    description: `${agent.description ?? `Runs the agent ${agent.id}`} (orchestr8 agent ${agent.id}${agent.version ? `@${agent.version}` : ''}; answers {output})`,
    inputSchema: inputJsonSchema(agent.inputSchema),
    async call(args, signal) {
      checkAgainstSchema(agent.inputSchema, args, `input of agent "${agent.id}"`);
      let config: Record<string, unknown> = {};
      if (agent.grant !== undefined) {
        try {
          config = agent.grant({}, resolved.agents[agent.id] ?? {}, resolved) as Record<string, unknown>;
        } catch (e) {
          if (!(e instanceof GrantDenied)) throw e;
          throw new CapabilityError([{ capability: e.capability, message: e.message, grant: e.grant }]);
        }
      }
      const ctx: AgentContext = {
        signal,
        executionId: 'mcp',
        stepId: agent.id,
        attempt: 1,
        idempotencyKey: randomUUID(),
        config,
        capabilities: resolved,
        logger: stderrLogger(agent.id),
        runWorkflow: () =>
          Promise.reject(
            new Orchestr8Error(
              ErrorCode.TERMINAL,
              'ctx.runWorkflow is not available to an agent called as an MCP tool',
            ),
          ),
      };
      const output = await agent.execute(args, ctx);
      checkAgainstSchema(agent.outputSchema, output, `output of agent "${agent.id}"`);
      return ok({ output: output ?? null });
    },
  }));
}
