// The agents pass: every step's agent is registered, as far as the caller knows its agents.
import { WAIT_AGENT_ID } from './compiled.js';
import { DiagnosticCode, error, listNames, type PendingDiagnostic } from './diagnostics.js';
import type { StepDocument } from './document-schema.js';
import { closest } from './suggest.js';

/**
 * The agents of `@orchestr8/agents` (`standardAgents`), which the CLI and the server register
 * and an embedding program registers only if it says so: a document naming one that is not
 * registered is told where it comes from. (packages/agents/test checks this list.)
 */
export const STANDARD_AGENT_IDS: readonly string[] = [
  '@orchestr8/http',
  '@orchestr8/shell',
  '@orchestr8/transform',
  '@orchestr8/llm',
  '@orchestr8/workflow',
];

/** Whether an agent id is (or looks like it was meant to be) in one of the scopes. */
function inScope(id: string, scopes: readonly string[], known: ReadonlySet<string>): boolean {
  const slash = id.indexOf('/');
  if (slash < 0) return scopes.some((sc) => known.has(`${sc}/${id}`));
  const scope = id.slice(0, slash);
  return scopes.includes(scope) || closest(scope, scopes) !== undefined;
}

/** The agent a step calls: its id (the wait agent's for a waiting step), version, config and url. */
export function agentOf(step: StepDocument): {
  id: string;
  version?: string;
  config?: Record<string, unknown>;
  url?: string;
} {
  if (step.agent === undefined) return { id: WAIT_AGENT_ID };
  return typeof step.agent === 'string' ? { id: step.agent } : step.agent;
}

/**
 * Reports each step whose agent is not in `knownAgents` (a remote agent, with a url, is not
 * checked). Returns the agent ids outside `knownAgentScopes`, which were not checked.
 */
export function checkAgents(
  steps: readonly StepDocument[],
  knownAgents: readonly string[] | undefined,
  scopes: readonly string[] | undefined,
  report: (d: PendingDiagnostic) => void,
): Set<string> {
  const n = steps.length;
  const stepPtr = (i: number) => `/steps/${i}`;
  const unchecked = new Set<string>();
  if (knownAgents) {
    const known = new Set(knownAgents);
    for (let i = 0; i < n; i++) {
      const step = steps[i]!;
      const agent = agentOf(step);
      // A remote agent (agent.url) is resolved by its service, not the local registry.
      if (step.agent === undefined || known.has(agent.id) || agent.url !== undefined) continue;
      const sure = scopes === undefined || inScope(agent.id, scopes, known);
      if (!sure) {
        unchecked.add(agent.id);
        continue;
      }
      const bare = agent.id.startsWith('@')
        ? undefined
        : scopes?.find((sc) => known.has(`${sc}/${agent.id}`));
      const standard = STANDARD_AGENT_IDS.includes(agent.id);
      const guess = standard ? undefined : bare ? `${bare}/${agent.id}` : closest(agent.id, known);
      const from = standard
        ? `"${agent.id}" is one of the standard agents of @orchestr8/agents: register them with createAgentRegistry([...builtinAgents, ...standardAgents]); `
        : '';
      report(
        error(
          DiagnosticCode.UNKNOWN_AGENT,
          `${stepPtr(i)}/agent${typeof step.agent === 'string' ? '' : '/id'}`,
          `step "${step.id}" uses agent "${agent.id}", which is not registered`,
          {
            hint: `${from}${guess ? `did you mean "${guess}"? ` : ''}known agents: ${listNames([...knownAgents].sort(), 20)}`,
          },
        ),
      );
    }
  }
  return unchecked;
}
