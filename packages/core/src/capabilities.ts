/**
 * What the operator lets workflow documents reach on this host. A document is untrusted
 * input (anyone who may call the API writes one): it can narrow these grants through an
 * agent's `config`, never widen them. Hosts (CLI, server, worker) build them from the
 * project configuration, flags and environment; the engine checks every document against
 * them before an execution is recorded.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

export interface EgressPolicy {
  /**
   * Destinations the network agents (http, remote, llm) may reach although they are not
   * public: host names (`api.internal`, `*.svc.local`), IP addresses and CIDR ranges
   * (`127.0.0.0/8`, `::1`, `10.0.0.0/8`). `"*"` allows every destination.
   */
  allow?: readonly string[];
}

export interface Capabilities {
  /**
   * Environment variables documents may read through `context.environment` (`${env.X}`) and
   * `context.secretRefs`: names, or prefixes ending in `*` (`APP_*`). Default: none.
   * `ORCHESTR8_*` variables are never readable, whatever is listed.
   */
  env?: readonly string[];
  /** Where network agents may connect beyond public addresses. Default: public addresses only. */
  egress?: EgressPolicy;
  /**
   * Operator configuration per agent id (e.g. `{"@orchestr8/shell": {allow: ["git"]}}`): what
   * the agent may do on this host. Agents that touch the host read their grant from here and
   * let a document's `agent.config` only narrow it.
   */
  agents?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** How deep sub-workflows may nest (a workflow that calls itself). Default 16. */
  maxWorkflowDepth?: number;
}

/** Capabilities with every default filled in, as agents see them. */
export interface ResolvedCapabilities {
  readonly env: readonly string[];
  readonly egress: { readonly allow: readonly string[] };
  readonly agents: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly maxWorkflowDepth: number;
}

export const DEFAULT_MAX_WORKFLOW_DEPTH = 16;
/** Variables of orchestr8 itself (API keys, store URLs): never readable by a document. */
const RESERVED_ENV = /^ORCHESTR8_/i;

export function resolveCapabilities(c: Capabilities = {}): ResolvedCapabilities {
  const depth = c.maxWorkflowDepth ?? DEFAULT_MAX_WORKFLOW_DEPTH;
  if (!Number.isInteger(depth) || depth < 0) {
    throw new Orchestr8Error(ErrorCode.VALIDATION, 'capabilities.maxWorkflowDepth must be an integer >= 0');
  }
  return Object.freeze({
    env: Object.freeze([...(c.env ?? [])]),
    egress: Object.freeze({ allow: Object.freeze([...(c.egress?.allow ?? [])]) }),
    agents: Object.freeze({ ...(c.agents ?? {}) }),
    maxWorkflowDepth: depth,
  });
}

/** Whether a document may read environment variable `name`. */
export function envReadable(caps: ResolvedCapabilities, name: string): boolean {
  if (RESERVED_ENV.test(name)) return false;
  for (const pattern of caps.env) {
    if (pattern === name) return true;
    if (pattern.endsWith('*') && name.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}

export interface CapabilityProblem {
  /** The step that asks, when the problem is a step's (absent for document-level ones). */
  stepId?: string;
  /** The capability asked for, e.g. `env`, `@orchestr8/shell.allow`. */
  capability: string;
  message: string;
  /** How the operator grants it. */
  grant: string;
}

/** A document asked for more than the operator grants. Never retried. */
export class CapabilityError extends Orchestr8Error {
  readonly problems: readonly CapabilityProblem[];
  constructor(problems: readonly CapabilityProblem[]) {
    const first = problems[0];
    const where = first?.stepId !== undefined ? `step "${first.stepId}": ` : '';
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super(
      ErrorCode.CAPABILITY_DENIED,
      first ? `${where}${first.message}; ${first.grant}${more}` : 'capability denied',
      { retryable: false, details: { problems } },
    );
    this.name = 'CapabilityError';
    this.problems = problems;
  }
}

/**
 * Thrown by an agent's `grant` when a document's `agent.config` asks for more than the
 * operator's configuration allows. The engine adds the step id and collects them all.
 */
export class GrantDenied extends Error {
  constructor(
    readonly capability: string,
    message: string,
    readonly grant: string,
  ) {
    super(message);
    this.name = 'GrantDenied';
  }
}
