import { type CompiledWorkflow, closest, WAIT_AGENT_ID } from '@orchestr8/schema';

const WORKFLOW_AGENT_ID = '@orchestr8/workflow';

/**
 * The agent ids a workflow's steps can call, its sub-workflows' included, or `undefined`
 * when some can only be known at run time (a sub-workflow from a file or a template).
 * Mocks answer by agent id in children too, so an inline child's agents count; a mocked
 * workflow agent runs no child, so then they do not.
 */
export function agentsUsed(workflow: CompiledWorkflow, mocked: ReadonlySet<string>): Set<string> | undefined {
  const used = new Set<string>();
  const steps = workflow.steps.map((s) => ({ agent: s.agentId, input: s.document.input }));
  return collect(steps, mocked, used, 0) ? used : undefined;
}

/** Walks steps (and inline children's steps); false when a child cannot be read statically. */
function collect(
  steps: readonly { agent: string | undefined; input: unknown }[],
  mocked: ReadonlySet<string>,
  used: Set<string>,
  depth: number,
): boolean {
  for (const { agent, input } of steps) {
    if (agent === undefined || agent === WAIT_AGENT_ID) continue;
    used.add(agent);
    if (agent !== WORKFLOW_AGENT_ID || mocked.has(agent)) continue;
    const child = isObject(input) ? input.workflow : undefined;
    // A child from a file, a template or nested too deep: any agent may run there.
    if (depth >= 8 || !isObject(child) || !Array.isArray(child.steps)) return false;
    const childSteps = child.steps
      .filter(isObject)
      .map((s) => ({ agent: agentIdOf(s.agent), input: s.input }));
    if (!collect(childSteps, mocked, used, depth + 1)) return false;
  }
  return true;
}

function agentIdOf(ref: unknown): string | undefined {
  if (typeof ref === 'string') return ref;
  return isObject(ref) && typeof ref.id === 'string' ? ref.id : undefined;
}

/**
 * A failure for each mock no step can call: a mistyped id would otherwise leave the real
 * agent running (a real request, a real process) while the mock sits unused.
 */
export function unusedMocks(
  workflow: CompiledWorkflow,
  mockIds: readonly string[],
): { path: string; message: string }[] {
  const used = agentsUsed(workflow, new Set(mockIds));
  if (used === undefined) return [];
  return mockIds
    .filter((id) => !used.has(id))
    .map((id) => {
      const guess = closest(id, used);
      const hint = guess
        ? `did you mean "${guess}"?`
        : `it uses ${[...used].map((a) => `"${a}"`).join(', ') || 'no agent'}`;
      return {
        path: `mocks["${id}"]`,
        message: `no step of workflow ${workflow.id} uses agent "${id}" (${hint})`,
      };
    });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
