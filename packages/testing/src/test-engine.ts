import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { createFakeClock, type FakeClock, ValidationError } from '@orchestr8/common';
import {
  type Agent,
  type AgentContext,
  type AgentRegistry,
  type Capabilities,
  createEngine,
  createMemoryStore,
  type Engine,
  type EngineOptions,
  type ExecutionResult,
  type StartOptions,
  type Store,
} from '@orchestr8/core';
import {
  type CompiledWorkflow,
  formatDiagnostic,
  type LoadResult,
  loadWorkflowFile,
  validateWorkflowObject,
} from '@orchestr8/schema';
import { type JournalView, journalOf } from './journal-view.js';
import { isMockAgent, type MockRuntime } from './mock-agent.js';
import { canSend, describeSend, describeWaiting, type SendAction, send, stuck } from './send-actions.js';

export interface TestRunOptions extends StartOptions {
  /**
   * What to send the execution while it waits, in order: events, signals, decisions, and
   * clock advances. Each goes once its target waits (see `SendAction`).
   */
  send?: readonly SendAction[];
}

export interface TestEngineOptions {
  /**
   * Agents to register: your own, and mocks (`mockAgent`). Each replaces any agent with the
   * same id (every version of it), so a mock stands in for a built-in or standard agent.
   */
  agents?: Iterable<Agent>;
  /**
   * The agents available besides `agents`. Default: the built-in agents of
   * `@orchestr8/agent-base` and the standard ones of `@orchestr8/agents` (http, shell, ...).
   */
  baseAgents?: Iterable<Agent>;
  /** Default: a new fake clock. Time moves only through `advance`, `runAll` or `run`. */
  clock?: FakeClock;
  /** Default: a new in-memory store on the clock. */
  store?: Store;
  /** For steps whose agent has a `url` and is not mocked. Default: none (AGENT_NOT_FOUND). */
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /** Default `() => 0.5`: full-jitter backoff waits half the computed delay, every time. */
  random?: () => number;
  /**
   * Default: `process.env`. Documents may read the variables given here (they are granted in
   * `capabilities.env` unless `capabilities` says otherwise).
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** The operator's grants (see the security page). Default: those of production, nothing extra. */
  capabilities?: Capabilities;
  /** Any other engine option (tracer, journal limits, ...). */
  engine?: Partial<Omit<EngineOptions, 'registry' | 'store' | 'clock'>>;
}

/** A workflow for `run`: compiled, a document object, or a file path (.yaml, .yml, .json). */
export type WorkflowSource = CompiledWorkflow | Record<string, unknown> | string;

export interface TestEngine extends Engine {
  readonly clock: FakeClock;
  readonly registry: AgentRegistry;
  /**
   * Runs a workflow to its end with time skipping: whenever no agent is working and the
   * engine is idle, the fake clock jumps to the next timer (a backoff, a timeout, a mock's
   * delay, a wait's timer or timeout), so retries, timeouts and waits take no real time.
   * Agents doing real I/O are waited for. While the execution waits, what `send` lists goes
   * to it in order; an execution left waiting for something never sent is an error (code
   * TIMEOUT) saying what it waits for, and so is a `send` entry never used.
   */
  run(workflow: WorkflowSource, options?: TestRunOptions): Promise<ExecutionResult>;
  /** Compiles a workflow source against this engine's agents; throws a VALIDATION error listing problems. */
  load(workflow: WorkflowSource): Promise<CompiledWorkflow>;
  /** Moves the fake clock forward (for tests that drive time by hand with `start`/`execute`). */
  advance(ms: number): Promise<void>;
  /** Fires timers until none are left. */
  runAll(limit?: number): Promise<number>;
  /** The journal of an execution. */
  journal(execution: ExecutionResult | string): Promise<JournalView>;
}

/**
 * An engine for tests: in-memory store, fake clock, your agents and mocks over the built-in
 * and standard ones.
 *
 * ```ts
 * const engine = createTestEngine({ agents: [mockAgent('@acme/fetch', [{ fail: 'RETRYABLE' }, { result: 1 }])] });
 * const result = await engine.run('workflows/fetch.yaml', { inputs: { id: 7 } });
 * expectStep(result, 'fetch').toHaveAttempts(2);
 * ```
 */
const REAL_WORK: ReadonlySet<string> = new Set([
  '@orchestr8/http',
  '@orchestr8/shell',
  '@orchestr8/transform',
  '@orchestr8/llm',
]);

export function createTestEngine(options: TestEngineOptions = {}): TestEngine {
  const clock = options.clock ?? createFakeClock();
  const tracker = new ActivityTracker();
  const store = tracker.watchStore(options.store ?? createMemoryStore({ clock }));
  const runtime: MockRuntime = { clock, idle: (wait) => tracker.idle(wait) };

  const base = [...(options.baseAgents ?? [...builtinAgents, ...standardAgents])];
  const own = [...(options.agents ?? [])];
  const ownIds = new Set(own.map((a) => a.id));
  // Standard agents doing real work (a request, a process, a transform in a worker) are
  // waited for like your own; the workflow agent is not (its child needs fake time to move).
  const agents: Agent[] = base
    .filter((a) => !ownIds.has(a.id))
    .map((a) => (REAL_WORK.has(a.id) ? tracker.wrap(a) : a));
  const mocks = new Map<string, Agent>();
  for (const a of own) {
    if (isMockAgent(a)) {
      // A mock answers for every version of the agent it replaces, so pinned steps find it too.
      for (const v of new Set(
        base.filter((b) => b.id === a.id && b.version !== a.version).map((b) => b.version),
      ))
        if (v !== undefined) agents.push(tracker.wrap(a.bind(runtime, v)));
      const bound = tracker.wrap(a.bind(runtime));
      mocks.set(a.id, bound);
      agents.push(bound);
    } else agents.push(tracker.wrap(a));
  }
  const registry = createAgentRegistry();
  for (const a of agents) registry.register(a, { replace: true });

  const engine = createEngine({
    cancelPollMs: 0,
    // Nobody else holds the store: no polling timers, so time only jumps to real due times.
    waitPollMs: 0,
    random: () => 0.5,
    ...options.engine,
    ...(options.random ? { random: options.random } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.capabilities
      ? { capabilities: options.capabilities }
      : options.env
        ? { capabilities: { ...options.engine?.capabilities, env: Object.keys(options.env) } }
        : {}),
    registry,
    store,
    clock,
    remoteAgent: (url, id) => {
      const mock = mocks.get(id);
      if (mock) return mock;
      const remote = options.remoteAgent?.(url, id);
      return remote ? tracker.wrap(remote) : undefined;
    },
  });

  const load = async (source: WorkflowSource): Promise<CompiledWorkflow> => {
    if (isCompiled(source)) return source;
    const knownAgents = registry.list().map((a) => a.id);
    const loaded: LoadResult =
      typeof source === 'string'
        ? await loadWorkflowFile(source, { knownAgents })
        : validateWorkflowObject(source, { knownAgents });
    if (!loaded.ok || !loaded.workflow) {
      const problems = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      throw new ValidationError(`the workflow is invalid:\n  ${problems.join('\n  ')}`, {
        details: loaded.diagnostics,
      });
    }
    return loaded.workflow;
  };

  return Object.assign(Object.create(engine) as Engine, {
    clock,
    registry,
    load,
    advance: (ms: number) => clock.advance(ms),
    runAll: (limit?: number) => clock.runAll(limit),
    journal: (execution: ExecutionResult | string) => journalOf(store, execution),
    async run(source: WorkflowSource, options?: TestRunOptions): Promise<ExecutionResult> {
      const workflow = await load(source);
      const { send: toSend, ...start } = options ?? {};
      const queue = [...(toSend ?? [])];
      let sent = 0;
      const handle = await engine.start(workflow, start);
      let done = false;
      const result = handle.result.finally(() => {
        done = true;
      });
      while (!done) {
        await tracker.settle(result);
        if (done) break;
        // Quiet: send what the execution now waits for, else skip to the next timer.
        if (sent < queue.length && (await canSend(store, handle.id, queue[sent]!))) {
          await send(engine, handle.id, queue[sent++]!, (ms) => clock.advance(ms));
          continue;
        }
        if (await clock.next()) continue;
        if ((await store.getExecution(handle.id))?.status === 'waiting' && !engine.isRunning(handle.id)) {
          const waiting = await describeWaiting(store, handle.id);
          throw stuck(
            sent < queue.length
              ? `send[${sent}] (${describeSend(queue[sent]!)}) never found its target: ${waiting}`
              : `the execution is still waiting and nothing more is sent: ${waiting}`,
          );
        }
        // Without a timer, something outside (a real agent's I/O) must be on its way: wait for it.
        await Promise.race([result, tracker.change(), tick(5)]);
      }
      const r = await result;
      if (sent < queue.length)
        throw stuck(
          `send[${sent}] (${describeSend(queue[sent]!)}) was never used: the execution ${r.status} first`,
        );
      return r;
    },
  }) as TestEngine;
}

function isCompiled(source: WorkflowSource): source is CompiledWorkflow {
  return typeof source === 'object' && 'steps' in source && 'hash' in source && 'document' in source;
}

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Knows whether the engine is busy: agents at work (real I/O takes real time) and store
 * calls in flight. Fake time only moves when both have been still for a couple of
 * event-loop turns.
 */
class ActivityTracker {
  private busy = 0;
  private activity = 0;
  private waiters: (() => void)[] = [];

  private bump(delta: number): void {
    this.busy += delta;
    this.activity++;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** Resolves at the next change of activity. */
  change(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  async idle<T>(wait: () => Promise<T>): Promise<T> {
    this.bump(-1);
    try {
      return await wait();
    } finally {
      this.bump(1);
    }
  }

  wrap(agent: Agent): Agent {
    const execute = async (input: unknown, ctx: AgentContext) => {
      this.bump(1);
      try {
        return await agent.execute(input, ctx);
      } finally {
        this.bump(-1);
      }
    };
    // Keep the agent's fields (id, version, schemas, target, a mock's calls); defineAgent
    // freezes agents, so the override is defined rather than assigned.
    return Object.create(agent, { execute: { value: execute, enumerable: true } }) as Agent;
  }

  watchStore(store: Store): Store {
    return new Proxy(store, {
      get: (target, key, receiver) => {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out = (value as (...a: unknown[]) => unknown).apply(target, args);
          // A write in flight (a real database) is work: time must not jump past it.
          if (out instanceof Promise) {
            this.bump(1);
            out.then(
              () => this.bump(-1),
              () => this.bump(-1),
            );
          } else this.activity++;
          return out;
        };
      },
    });
  }

  /** Resolves once no agent is working and nothing happened for two event-loop turns. */
  async settle(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.then(
      () => {
        finished = true;
      },
      () => {
        finished = true;
      },
    );
    for (;;) {
      const before = this.activity;
      await turn();
      await turn();
      if (finished) return;
      if (this.busy > 0) {
        await Promise.race([done, this.change()]);
        continue;
      }
      if (this.activity === before) return;
    }
  }
}
