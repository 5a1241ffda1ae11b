import type { ResolvedCapabilities } from './capabilities.js';

/**
 * What the engine needs from an agent. `defineAgent` and the built-in agents live in
 * `@orchestr8/agent-base`; the engine only sees this shape, so a plain object works too.
 */
export interface AgentLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface AgentContext {
  /** Aborted on timeout, cancellation or fail-fast. Agents should stop promptly. */
  readonly signal: AbortSignal;
  readonly executionId: string;
  readonly stepId: string;
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Stable across retries and crash re-runs of the same step (and forEach item). */
  readonly idempotencyKey: string;
  /**
   * The step's `agent.config` from the document, narrowed to what the operator grants (the
   * agent's `grant`); the document's own value for agents without one.
   */
  readonly config: Readonly<Record<string, unknown>>;
  /** What the operator lets documents reach on this host (environment, egress, per-agent grants). */
  readonly capabilities: ResolvedCapabilities;
  readonly logger: AgentLogger;
  /** Inside a forEach step: the current item and its index. */
  readonly item?: unknown;
  readonly index?: number;
  /**
   * Runs another workflow document as a child execution, linked to this step in the store
   * and the journal, and resolves with its result. Re-running the step (a retry, or after
   * a crash) finds the same child execution instead of starting a second one.
   */
  runWorkflow(document: unknown, options?: { inputs?: unknown }): Promise<ChildExecutionResult>;
}

/** What `ctx.runWorkflow` resolves with (the engine's ExecutionResult). */
export interface ChildExecutionResult {
  executionId: string;
  status: string;
  outputs?: unknown;
  error?: { code: string; message: string };
}

export interface Agent<I = any, O = any> {
  readonly id: string;
  readonly version?: string;
  readonly description?: string;
  /** A zod schema or a JSON Schema object. */
  readonly inputSchema?: unknown;
  readonly outputSchema?: unknown;
  /** Input field names whose values are redacted in the journal. */
  readonly secretFields?: readonly string[];
  /**
   * For agents that touch the host (programs, files, network): the config a step runs with,
   * from the document's `agent.config` (`requested`) and the operator's grant for this agent
   * (`operator`, from `capabilities.agents[id]`). It may only narrow the grant: asking for
   * more throws `GrantDenied`, which refuses the execution before it starts.
   */
  grant?(
    requested: Readonly<Record<string, unknown>>,
    operator: Readonly<Record<string, unknown>>,
    capabilities: ResolvedCapabilities,
  ): Readonly<Record<string, unknown>>;
  /**
   * Checks a step's input as written in the document (templates are strings containing `${`,
   * left unchecked) against the config `grant` returned: throws `GrantDenied` for a literal
   * value the grant does not cover (a program not allowed, a private address, a path outside
   * the root), so the execution is refused before anything is recorded. The agent checks the
   * rendered input again when it runs; this only moves the refusal of what is knowable earlier.
   */
  grantInput?(
    input: unknown,
    config: Readonly<Record<string, unknown>>,
    capabilities: ResolvedCapabilities,
  ): void;
  /** The circuit-breaker target for this input (e.g. a URL host); the agent id alone when absent. */
  target?(input: I, config: Readonly<Record<string, unknown>>): string | undefined;
  execute(input: I, ctx: AgentContext): Promise<O> | O;
}

export interface AgentRegistry {
  get(id: string, version?: string): Agent | undefined;
  has(id: string): boolean;
  list(): readonly Agent[];
}
