import { createFakeClock, type FakeClock } from '@orchestr8/common';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import {
  type Agent,
  type AgentContext,
  type AgentRegistry,
  createEngine,
  type Engine,
  type EngineOptions,
  type JournalEntry,
} from '../src/index.js';

/** Compiles a document given as an object; fails the test with the diagnostics when invalid. */
export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'test', name: 'test' }, ...doc });
  if (!r.ok || !r.workflow)
    throw new Error(`invalid test workflow: ${JSON.stringify(r.diagnostics, null, 2)}`);
  return r.workflow;
}

export function registryOf(...agents: Agent[]): AgentRegistry {
  const map = new Map(agents.map((a) => [a.id, a]));
  return { get: (id) => map.get(id), has: (id) => map.has(id), list: () => [...map.values()] };
}

export function agent(id: string, execute: (input: any, ctx: AgentContext) => unknown): Agent {
  return { id, execute: execute as Agent['execute'] };
}

export function testEngine(
  agents: Agent[],
  options: Partial<EngineOptions> & { clock?: FakeClock } = {},
): {
  engine: Engine;
  clock: FakeClock;
} {
  const clock = options.clock ?? createFakeClock();
  // A test that hands the engine an environment means its documents to read it.
  const capabilities = options.capabilities ?? (options.env ? { env: Object.keys(options.env) } : undefined);
  const engine = createEngine({
    registry: registryOf(...agents),
    clock,
    random: () => 0.5,
    ...options,
    ...(capabilities ? { capabilities } : {}),
  });
  return { engine, clock };
}

/** A promise with its resolve/reject exposed, for agents the test finishes by hand. */
export function deferred<T = unknown>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** The journal of an execution as the store returns it. */
export async function journalOf(engine: Engine, executionId: string): Promise<JournalEntry[]> {
  return engine.store.readJournal(executionId);
}

/** The entries of one type (and step, when given), in order. */
export function entriesOf(journal: readonly JournalEntry[], type: string, stepId?: string): JournalEntry[] {
  return journal.filter((e) => e.type === type && (stepId === undefined || e.stepId === stepId));
}

/** A journal entry's `data` as a record, for reading fields in assertions. */
export function dataOf(entry: JournalEntry | undefined): Record<string, any> {
  if (entry === undefined) throw new Error('no such journal entry');
  return (entry.data ?? {}) as Record<string, any>;
}

/** An agent that never settles on its own but rejects with the abort reason when its signal aborts. */
export function abortable(id: string): Agent {
  return agent(
    id,
    (_input, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      }),
  );
}
