/**
 * Checking a compiled workflow against the operator's capabilities, once per workflow: the
 * environment it reads, each step's `agent.config` narrowed by its agent's `grant`, and the
 * literal parts of each step's input checked by its agent's `grantInput`.
 * The result is cached on the compiled workflow, so a long-lived engine pays for it once.
 */
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { AgentRegistry } from './agent.js';
import {
  CapabilityError,
  type CapabilityProblem,
  envReadable,
  GrantDenied,
  type ResolvedCapabilities,
} from './capabilities.js';

export interface WorkflowGrants {
  /** The config each step's agent sees: the document's, narrowed to the operator's grant. */
  readonly configs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /** The environment templates of this workflow may read: its allowlisted names only. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const ENV_GRANT = 'list it in capabilities.env of orchestr8.config (or pass --allow-env NAME)';

/**
 * Grants of one workflow, or a CapabilityError listing everything it asks for beyond them.
 * Steps whose agent is not known here are left to fail at run time (AGENT_NOT_FOUND).
 */
export function grantWorkflow(
  workflow: CompiledWorkflow,
  registry: AgentRegistry,
  caps: ResolvedCapabilities,
  env: Readonly<Record<string, string | undefined>>,
): WorkflowGrants {
  const problems: CapabilityProblem[] = [];
  const readable: Record<string, string | undefined> = {};
  for (const name of workflow.environmentAllowlist) {
    if (envReadable(caps, name)) readable[name] = env[name];
    else problems.push(envProblem(name, 'context.environment'));
  }
  for (const [secret, name] of Object.entries(workflow.secretRefs)) {
    if (!envReadable(caps, name)) problems.push(envProblem(name, `context.secretRefs.${secret}`));
  }
  const configs = new Map<string, Readonly<Record<string, unknown>>>();
  const sure = runsWheneverTheExecutionDoes(workflow);
  for (const step of workflow.steps) {
    if (step.agentUrl !== undefined) continue;
    const agent = registry.get(step.agentId, step.agentVersion);
    if (agent === undefined || (agent.grant === undefined && agent.grantInput === undefined)) continue;
    const operator = caps.agents[agent.id] ?? {};
    try {
      let config = step.agentConfig;
      if (agent.grant !== undefined) {
        config = agent.grant(step.agentConfig, operator, caps);
        configs.set(step.id, config);
      }
      // What the step's input says as written (programs, addresses, paths), against that grant;
      // only for a step that surely runs: one that may be skipped or whose failure is handled
      // is checked when it runs, so a document valid today is not refused for a branch.
      if (sure.has(step.id)) agent.grantInput?.(step.document.input ?? {}, config, caps);
    } catch (e) {
      if (!(e instanceof GrantDenied)) throw e;
      problems.push({ stepId: step.id, capability: e.capability, message: e.message, grant: e.grant });
    }
  }
  if (problems.length > 0) throw new CapabilityError(problems);
  return { configs, env: readable };
}

/**
 * The steps that run whenever the execution runs to its end: no condition, not only a
 * fallback, failures not handled (`onError: fail`), and every dependency such a step too
 * (unless the step runs after skipped dependencies as well, `trigger: all_done`).
 */
function runsWheneverTheExecutionDoes(workflow: CompiledWorkflow): Set<string> {
  const byId = new Map(workflow.steps.map((s) => [s.id, s]));
  const memo = new Map<string, boolean>();
  const sure = (id: string): boolean => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    memo.set(id, false); // a cycle (never in a valid workflow) is not sure
    const s = byId.get(id);
    const result =
      s !== undefined &&
      s.condition === undefined &&
      !s.fallbackOnly &&
      s.onError === 'fail' &&
      (s.trigger === 'all_done' || s.dependencies.every(sure));
    memo.set(id, result);
    return result;
  };
  return new Set(workflow.steps.filter((s) => sure(s.id)).map((s) => s.id));
}

function envProblem(name: string, where: string): CapabilityProblem {
  const reserved = /^ORCHESTR8_/i.test(name);
  return {
    capability: 'env',
    message: reserved
      ? `${where} reads ${name}: orchestr8's own variables are never readable by a document`
      : `${where} reads environment variable ${name}, which the operator has not granted`,
    grant: reserved ? 'no setting grants it' : ENV_GRANT,
  };
}
