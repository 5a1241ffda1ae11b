/**
 * The MCP server: one tool per exposed workflow, the generic tools, and resources, on the
 * official SDK's low-level `Server` (tool lists are dynamic: the workflows registered in the
 * store can change between two `tools/list` calls).
 */
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { hasCode, ErrorCode as Orchestr8Code, ValidationError } from '@orchestr8/common';
import { type Agent, type Capabilities, checkAgainstSchema, type Engine, type Store } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { agentTools } from './agent-tools.js';
import { type Catalog, createCatalog, type ExposedWorkflow, type Exposure } from './catalog.js';
import { ExecutionViews } from './execution-views.js';
import { genericTools, startAndWait, type ToolContext, type ToolDef } from './generic-tools.js';
import { listResources, readResource, resourceTemplates } from './resources.js';
import { fromError } from './tool-result.js';

export interface McpOptions {
  engine: Engine;
  /** Defaults to the engine's store. */
  store?: Store;
  /**
   * Registered workflows (in the store) that get a tool: ids, or `'*'` for all. Default: none.
   * Hosts decide; `orchestr8 serve` exposes all on loopback and none elsewhere unless told.
   */
  expose?: Exposure;
  /** Workflows served besides the registered ones (the files given to `orchestr8 mcp`), always exposed. */
  workflows?: readonly CompiledWorkflow[];
  /** How long a workflow tool waits for the result before answering with the execution id and status. Default 30 s. */
  waitMs?: number;
  /** Upper bound of a call's `waitSeconds`. Default 120 s. */
  maxWaitMs?: number;
  /** Whether the generic tools take inline workflow documents. Default true (capabilities apply to them). */
  documents?: boolean;
  /** Agents exposed as tools of their own (`agent_<id>`), called directly, outside any workflow. */
  agents?: readonly Agent[];
  /** The operator's grants for those agents (as for `orchestr8 agent serve`). */
  capabilities?: Capabilities;
}

export const DEFAULT_TOOL_WAIT_MS = 30_000;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const VERSION = packageVersion();

/** The tools and resources of one orchestr8 host; `connect` it to any number of transports. */
export interface McpService {
  readonly catalog: Catalog;
  /** A new SDK server wired to this service (one per session, or per request when stateless). */
  createServer(): Server;
}

export function createMcpService(options: McpOptions): McpService {
  const store = options.store ?? options.engine.store;
  const catalog = createCatalog(options.engine, store, options.expose ?? [], options.workflows ?? []);
  const ctx: ToolContext = {
    engine: options.engine,
    store,
    catalog,
    views: new ExecutionViews(options.engine, store),
    waitMs: options.waitMs ?? DEFAULT_TOOL_WAIT_MS,
    maxWaitMs: options.maxWaitMs ?? 120_000,
    documents: options.documents ?? true,
  };
  // One validator for every server of this service: building one costs more than a tool call.
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const generic = [...agentTools(options.agents ?? [], options.capabilities), ...genericTools(ctx)];
  const genericByName = new Map(generic.map((t) => [t.name, t]));

  function workflowTool(w: ExposedWorkflow): ToolDef {
    return {
      name: w.toolName,
      ...(w.name !== undefined ? { title: w.name } : {}),
      description: `${w.description} (workflow ${w.id}@${w.version}; answers with its outputs, or with the execution id and status when it runs longer than ${Math.round(ctx.waitMs / 1000)} s)`,
      inputSchema: w.inputSchema,
      call: (args, signal) =>
        startAndWait(
          ctx,
          async () => options.engine.start(w.compile(), { inputs: args }),
          ctx.waitMs,
          signal,
        ),
    };
  }

  const describe = (t: ToolDef): Tool => ({
    name: t.name,
    ...(t.title !== undefined ? { title: t.title } : {}),
    description: t.description,
    inputSchema: t.inputSchema as Tool['inputSchema'],
    ...(t.annotations !== undefined ? { annotations: t.annotations } : {}),
  });

  async function call(name: string, args: unknown, signal: AbortSignal): Promise<CallToolResult> {
    const g = genericByName.get(name);
    const tool = g ?? (await catalog.list().then((all) => all.find((w) => w.toolName === name)));
    if (tool === undefined)
      throw new McpError(ErrorCode.InvalidParams, `no tool "${name}" (tools/list names the tools)`);
    const def = 'call' in tool ? tool : workflowTool(tool);
    const a = args ?? {};
    try {
      // Generic tools check their arguments here; a workflow's inputs are checked by the engine,
      // which also applies the schema's defaults.
      if (typeof a !== 'object' || a === null || Array.isArray(a))
        return fromError(new ValidationError('the arguments must be an object'));
      if (g !== undefined) checkAgainstSchema(def.inputSchema, a, `arguments of ${name}`);
      return await def.call(a as Record<string, unknown>, signal);
    } catch (e) {
      return fromError(e);
    }
  }

  return {
    catalog,
    createServer() {
      const server = new Server(
        { name: 'orchestr8', version: VERSION },
        {
          capabilities: { tools: { listChanged: false }, resources: {} },
          jsonSchemaValidator,
          instructions:
            'orchestr8 runs declarative workflows. Each workflow tool runs one workflow with its inputs and answers with its outputs, ' +
            'or with an execution id to follow with orchestr8_get_execution. orchestr8_list_approvals and ' +
            'orchestr8_decide_approval answer approval steps.',
        },
      );
      server.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [...(await catalog.list()).map((w) => describe(workflowTool(w))), ...generic.map(describe)],
      }));
      server.setRequestHandler(CallToolRequestSchema, (req, extra) =>
        call(req.params.name, req.params.arguments, extra.signal),
      );
      server.setRequestHandler(ListResourcesRequestSchema, async () => ({
        resources: await listResources(ctx),
      }));
      server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
        resourceTemplates,
      }));
      server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
        try {
          return await readResource(ctx, req.params.uri);
        } catch (e) {
          if (hasCode(e, Orchestr8Code.NOT_FOUND)) throw new McpError(-32002, (e as Error).message);
          if (hasCode(e, Orchestr8Code.VALIDATION))
            throw new McpError(ErrorCode.InvalidParams, (e as Error).message);
          throw e;
        }
      });
      return server;
    },
  };
}
