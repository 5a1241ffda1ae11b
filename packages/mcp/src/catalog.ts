/**
 * Which workflows an MCP client sees as tools: the operator's choice. Documents handed to
 * the server (files given to `orchestr8 mcp`) are always exposed; workflows registered in
 * the store (`PUT /workflows/:id`, `orchestr8 run`) only when `expose` names them or is `'*'`.
 */
import type { Engine, Store } from '@orchestr8/core';
import { latestDefinition } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';

/** Which registered workflows get a tool: their ids, or `'*'` for all of them. */
export type Exposure = readonly string[] | '*';

export interface ExposedWorkflow {
  /** The tool's name: the workflow id with characters MCP does not allow turned into `_`. */
  toolName: string;
  id: string;
  version: string;
  name?: string;
  description: string;
  /** The workflow's `inputs` JSON Schema, or an empty object schema. */
  inputSchema: Record<string, unknown>;
  document: unknown;
  /** Compiles (validates) the document against the engine's agents. */
  compile(): CompiledWorkflow;
}

/** Names of the generic tools (agent tools are `agent_*`); a workflow id that collides gets a `workflow_` prefix. */
export const GENERIC_TOOL_PREFIX = 'orchestr8_';

/** MCP tool names: 1 to 64 of `[A-Za-z0-9_-]` (workflow ids may also hold `.`). */
export function toolNameFor(workflowId: string): string {
  let name = workflowId.replace(/[^A-Za-z0-9_-]/g, '_');
  if (name.startsWith(GENERIC_TOOL_PREFIX) || name.startsWith('agent_')) name = `workflow_${name}`;
  return name.slice(0, 64);
}

interface Metadata {
  metadata?: { id?: string; name?: string; description?: string };
  version?: string;
  inputs?: unknown;
}

function entry(document: unknown, compile: () => CompiledWorkflow): ExposedWorkflow {
  const d = document as Metadata;
  const id = String(d.metadata?.id ?? '');
  const inputs = d.inputs;
  const inputSchema =
    typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)
      ? { type: 'object', ...(inputs as Record<string, unknown>) }
      : { type: 'object', properties: {} };
  const name = d.metadata?.name;
  return {
    toolName: toolNameFor(id),
    id,
    version: String(d.version ?? ''),
    ...(name !== undefined ? { name } : {}),
    description:
      d.metadata?.description ?? (name !== undefined ? `Runs the workflow "${name}"` : `Runs workflow ${id}`),
    inputSchema,
    document,
    compile,
  };
}

export interface Catalog {
  /** The exposed workflows, newest version of each, by tool name. */
  list(): Promise<ExposedWorkflow[]>;
  /** One exposed workflow by tool name or workflow id. */
  find(nameOrId: string): Promise<ExposedWorkflow | undefined>;
  /** Whether a registered workflow id may be started by id. */
  exposes(id: string): Promise<boolean>;
}

/**
 * How long a listing of the registered workflows is reused: a workflow registered by this or
 * another process gets its tool within this time.
 */
const LIST_TTL_MS = 1000;

export function createCatalog(
  engine: Engine,
  store: Store,
  expose: Exposure,
  documents: readonly CompiledWorkflow[],
): Catalog {
  const fixed = documents.map((w) => entry(w.document, () => w));
  const allowed = (id: string) => expose === '*' || expose.includes(id);
  // A stored definition never changes: compiled once per content hash.
  const compiled = new Map<string, CompiledWorkflow>();
  let listing: { at: number; value: Promise<ExposedWorkflow[]> } | undefined;
  function list(): Promise<ExposedWorkflow[]> {
    if (listing === undefined || Date.now() - listing.at >= LIST_TTL_MS) {
      const value = load();
      listing = { at: Date.now(), value };
      value.catch(() => {
        listing = undefined;
      });
    }
    return listing.value;
  }
  async function load(): Promise<ExposedWorkflow[]> {
    const out = new Map<string, ExposedWorkflow>();
    for (const e of fixed) out.set(e.toolName, e);
    if (expose === '*' || expose.length > 0) {
      const byId = new Map<string, Awaited<ReturnType<Store['listDefinitions']>>>();
      for (const d of await store.listDefinitions()) {
        if (!allowed(d.id) || fixed.some((f) => f.id === d.id)) continue;
        byId.set(d.id, [...(byId.get(d.id) ?? []), d]);
      }
      for (const versions of byId.values()) {
        const def = latestDefinition(versions);
        if (def === undefined) continue;
        const e = entry(def.document, () => {
          let w = compiled.get(def.hash);
          if (w === undefined) {
            w = engine.compile(def.document);
            if (compiled.size >= 256) compiled.clear();
            compiled.set(def.hash, w);
          }
          return w;
        });
        if (!out.has(e.toolName)) out.set(e.toolName, e);
      }
    }
    return [...out.values()].sort((a, b) => a.toolName.localeCompare(b.toolName));
  }
  return {
    list,
    async find(nameOrId) {
      const all = await list();
      return all.find((e) => e.toolName === nameOrId) ?? all.find((e) => e.id === nameOrId);
    },
    async exposes(id) {
      return fixed.some((f) => f.id === id) || (allowed(id) && (await store.getDefinition(id)) !== undefined);
    },
  };
}
