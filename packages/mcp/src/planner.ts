/**
 * Plans a workflow document from a sentence: an LLM gets the request and the available
 * agents (ids, descriptions, input and output schemas) and answers with a document; the
 * document is compiled exactly as a written one (schema, agents, references) and checked
 * against the operator's capabilities. Compiler errors go back to the LLM for a bounded
 * number of repairs; a capability the operator did not grant refuses the plan outright.
 */
import { ErrorCode, ensureError, Orchestr8Error } from '@orchestr8/common';
import type { Agent } from '@orchestr8/core';
import type { CompiledWorkflow, Diagnostic } from '@orchestr8/schema';

/** What the LLM is asked: the shape of the llm agent's prompt (`@orchestr8/llm` input). */
export interface PlanPrompt {
  role: string;
  goals: string[];
  constraints: string[];
  instructions: string;
  outputSchema: Record<string, unknown>;
  examples: unknown[];
  input: unknown;
}

export interface PlannerAgent {
  id: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  examples?: unknown[];
}

export interface PlanAttempt {
  /** What the LLM answered (the parsed JSON, or the text that was not a document). */
  answer: unknown;
  /** The compiler's errors for this answer; empty for the accepted one. */
  errors: Diagnostic[];
}

export interface Plan {
  workflow: CompiledWorkflow;
  /** Every answer, the rejected ones first: `attempts.length - 1` repairs were needed. */
  attempts: PlanAttempt[];
}

export interface PlanOptions {
  request: string;
  agents: readonly PlannerAgent[];
  /** Sends a prompt to the LLM; resolves with its JSON answer. */
  complete(prompt: PlanPrompt): Promise<unknown>;
  /** Validates and compiles a document (throws a VALIDATION error with diagnostics as `details`). */
  compile(document: unknown): CompiledWorkflow;
  /** The operator's capability check (throws CAPABILITY_DENIED). */
  authorize(workflow: CompiledWorkflow): void;
  /** Repair rounds after the first answer. Default 2. */
  maxRepairs?: number;
}

export const DEFAULT_MAX_REPAIRS = 2;

/** JSON Schemas as they are; zod schemas converted (zod 4); anything else left out. */
function jsonSchemaOf(schema: unknown): unknown {
  if (schema === undefined || schema === null || typeof schema !== 'object') return undefined;
  const z = schema as { safeParse?: unknown; toJSONSchema?: () => unknown };
  if (typeof z.safeParse !== 'function') return schema;
  try {
    return typeof z.toJSONSchema === 'function' ? z.toJSONSchema() : undefined;
  } catch {
    return undefined;
  }
}

/** What the planner is told of an agent: its id, description, schemas and examples. */
export function plannerAgent(agent: Agent): PlannerAgent {
  const examples = (agent as { examples?: unknown }).examples;
  const inputSchema = jsonSchemaOf(agent.inputSchema);
  const outputSchema = jsonSchemaOf(agent.outputSchema);
  return {
    id: agent.id,
    ...(agent.description !== undefined ? { description: agent.description } : {}),
    ...(inputSchema !== undefined ? { inputSchema } : {}),
    ...(outputSchema !== undefined ? { outputSchema } : {}),
    ...(Array.isArray(examples) ? { examples } : {}),
  };
}

const DOCUMENT_SHAPE = {
  type: 'object',
  required: ['version', 'metadata', 'steps'],
  properties: {
    version: { type: 'string' },
    metadata: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    steps: { type: 'array', minItems: 1, items: { type: 'object', required: ['id', 'agent'] } },
  },
};

const EXAMPLE = {
  input: { request: 'fetch https://example.com/items.json and count the items' },
  output: {
    version: '1.0.0',
    metadata: { id: 'count-items', description: 'Fetches a list and counts its items.' },
    steps: [
      { id: 'fetch', agent: '@orchestr8/http', input: { url: 'https://example.com/items.json' } },
      {
        id: 'count',
        agent: '@orchestr8/transform',
        dependencies: ['fetch'],
        input: { expression: '$count(body)', data: '${steps.fetch.output}' },
      },
    ],
    outputs: { count: '${steps.count.output.result}' },
  },
};

export function planPrompt(
  request: string,
  agents: readonly PlannerAgent[],
  previous?: { answer: unknown; errors: readonly Diagnostic[] },
): PlanPrompt {
  return {
    role: 'a planner that turns a request into an orchestr8 workflow document',
    goals: [
      'a workflow document (JSON) that does what the request asks, with the fewest steps',
      'only agents from the list given, each step input satisfying its agent inputSchema',
    ],
    constraints: [
      'A document has version (semver), metadata.id (letters, digits, _ . -), steps, and optionally inputs (a JSON Schema) and outputs.',
      'A step has id, agent (an agent id, or {id, config}), input, and dependencies (ids of the steps it reads).',
      'A step reads earlier outputs with templates such as "${steps.<id>.output.<field>}" and inputs with "${inputs.<name>}"; a string that is one template keeps the value type.',
      'Every step a template reads must be listed in dependencies.',
      'A step that runs a program (@orchestr8/shell) names the programs it needs in agent.config.allow, e.g. {"id": "@orchestr8/shell", "config": {"allow": ["find"]}}; command is an array of arguments, no shell syntax. Write the program (command[0]), URLs and file paths out literally, never as templates: they are checked against what the operator grants before the plan runs.',
      'Never ask for secrets, environment variables or network addresses the request does not name.',
    ],
    instructions: previous
      ? 'Your previous document was rejected by the validator. Fix every error listed in input.errors and answer with the whole corrected document.'
      : 'Write the workflow document for input.request, using only input.agents.',
    outputSchema: DOCUMENT_SHAPE,
    examples: [EXAMPLE],
    input: {
      request,
      agents,
      ...(previous
        ? {
            previousDocument: previous.answer,
            errors: previous.errors.map((d) => ({
              pointer: d.pointer,
              message: d.message,
              ...(d.hint ? { hint: d.hint } : {}),
            })),
          }
        : {}),
    },
  };
}

function diagnosticsOf(e: unknown): Diagnostic[] | undefined {
  const err = ensureError(e, ErrorCode.INTERNAL);
  if (err.code !== ErrorCode.VALIDATION) return undefined;
  const details = err.details;
  if (Array.isArray(details) && details.length > 0)
    return (details as Diagnostic[]).filter((d) => d.severity !== 'warning');
  return [{ code: 'E_PLAN', severity: 'error', pointer: '', message: err.message }];
}

/**
 * Asks for a document, compiles it, feeds the compiler's errors back up to `maxRepairs`
 * times, then checks capabilities. Throws VALIDATION (details: the last errors) when no
 * answer compiles, CAPABILITY_DENIED when the plan asks for more than the operator grants.
 */
export async function planWorkflow(options: PlanOptions): Promise<Plan> {
  const maxRepairs = options.maxRepairs ?? DEFAULT_MAX_REPAIRS;
  const attempts: PlanAttempt[] = [];
  let previous: PlanAttempt | undefined;
  for (let round = 0; round <= maxRepairs; round++) {
    const answer = await options.complete(planPrompt(options.request, options.agents, previous));
    let workflow: CompiledWorkflow;
    try {
      workflow = options.compile(answer);
    } catch (e) {
      const errors = diagnosticsOf(e);
      if (errors === undefined) throw e;
      previous = { answer, errors };
      attempts.push(previous);
      continue;
    }
    attempts.push({ answer, errors: [] });
    // Not repaired: the operator's limits are not the planner's to negotiate.
    options.authorize(workflow);
    return { workflow, attempts };
  }
  throw new Orchestr8Error(
    ErrorCode.VALIDATION,
    `no valid workflow after ${maxRepairs} repair${maxRepairs === 1 ? '' : 's'}: ${previous?.errors.map((d) => `${d.pointer || '/'}: ${d.message}`).join('; ')}`,
    { retryable: false, details: previous?.errors ?? [] },
  );
}

/** The plan as text: each step with its agent and dependencies, then the DAG by levels. */
export function planText(workflow: CompiledWorkflow): string {
  const lines = [`workflow ${workflow.id}@${workflow.version}: ${workflow.steps.length} step(s)`];
  for (const s of workflow.steps)
    lines.push(
      `  ${s.id}  ${s.agentId}${s.dependencies.length > 0 ? `  after ${s.dependencies.join(', ')}` : ''}`,
    );
  const level = new Map<string, number>();
  for (const id of workflow.topologicalOrder) {
    const deps = workflow.stepById.get(id)?.dependencies ?? [];
    level.set(id, deps.length === 0 ? 0 : Math.max(...deps.map((d) => level.get(d) ?? 0)) + 1);
  }
  const levels: string[][] = [];
  for (const [id, l] of level) {
    levels[l] ??= [];
    levels[l].push(id);
  }
  lines.push('graph:');
  lines.push(`  ${levels.map((ids) => (ids.length > 1 ? `{${ids.join(' | ')}}` : ids[0])).join(' -> ')}`);
  return `${lines.join('\n')}\n`;
}
