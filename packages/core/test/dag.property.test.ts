// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type ExecutionResult } from '../src/index.js';
import type { Store } from '../src/store.js';
import type { StepStatus } from '../src/types.js';
import { agent, compile, deferred, settle, testEngine } from './helpers.js';

/** A random DAG: step i depends only on steps before it, so it is acyclic by construction. */
interface Dag {
  deps: number[][];
  seeds: number[];
  maxConcurrentSteps: number;
}

const dagArb: fc.Arbitrary<Dag> = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    deps: fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: Math.min(i, 4) }),
      ),
    ),
    seeds: fc.array(fc.nat(1000), { minLength: n, maxLength: n }),
    maxConcurrentSteps: fc.integer({ min: 1, max: 8 }),
  }),
);

const id = (i: number) => `s${i}`;

/** The agent's pure function: its output depends only on its input (seed and upstream values). */
function mix(seed: number, up: readonly number[]): number {
  let h = (seed * 2654435761 + 17) % 1_000_000_007;
  for (let k = 0; k < up.length; k++) h = (h * 31 + up[k]! * (k + 7)) % 1_000_000_007;
  return h;
}

/** What every step's output must be, computed without the engine. */
function expectedOutputs(dag: Dag): Record<string, { v: number }> {
  const out: Record<string, { v: number }> = {};
  dag.deps.forEach((deps, i) => {
    out[id(i)] = {
      v: mix(
        dag.seeds[i]!,
        deps.map((d) => out[id(d)]!.v),
      ),
    };
  });
  return out;
}

function workflowOf(dag: Dag) {
  return compile({
    steps: dag.deps.map((deps, i) => ({
      id: id(i),
      agent: '@t/node',
      dependencies: deps.map(id),
      // Upstream outputs reach the agent only through templates.
      input: { step: id(i), seed: dag.seeds[i], up: deps.map((d) => `\${steps.${id(d)}.output.v}`) },
    })),
    policies: {
      concurrency: { maxConcurrentSteps: dag.maxConcurrentSteps },
      resilience: { retry: { maxAttempts: 1 } },
    },
  });
}

/** Wraps a store to know, synchronously, which step states have been committed. */
function committedView(inner: Store): { store: Store; committed: Map<string, StepStatus> } {
  const committed = new Map<string, StepStatus>();
  const store: Store = Object.create(inner);
  store.write = async (batch) => {
    // The engine may mutate a record after queueing it; what is committed is its state now.
    const statuses = batch.flatMap((w) =>
      w.kind === 'step' ? [[w.step.stepId, w.step.status] as const] : [],
    );
    await inner.write(batch);
    for (const [stepId, status] of statuses) committed.set(stepId, status);
  };
  return { store, committed };
}

interface Observed {
  calls: Map<string, number>;
  violations: string[];
  running: number;
  peak: number;
}

/**
 * The agent of every step. On entry it checks that each dependency has finished and that its
 * completion is committed to the store; `finish` decides when (in which order) it returns.
 */
function nodeAgent(
  dag: Dag,
  committed: Map<string, StepStatus>,
  obs: Observed,
  finish: (step: string) => Promise<void>,
  finished: Set<string>,
) {
  return agent('@t/node', async (input: { step: string; seed: number; up: number[] }) => {
    const i = Number(input.step.slice(1));
    obs.calls.set(input.step, (obs.calls.get(input.step) ?? 0) + 1);
    for (const d of dag.deps[i]!) {
      if (!finished.has(id(d)))
        obs.violations.push(`${input.step} started before dependency ${id(d)} finished`);
      if (committed.get(id(d)) !== 'completed') {
        obs.violations.push(`${input.step} started before dependency ${id(d)} was committed as completed`);
      }
    }
    obs.running++;
    obs.peak = Math.max(obs.peak, obs.running);
    if (obs.running > dag.maxConcurrentSteps) {
      obs.violations.push(
        `${obs.running} agents running, above maxConcurrentSteps ${dag.maxConcurrentSteps}`,
      );
    }
    try {
      await finish(input.step);
    } finally {
      obs.running--;
    }
    finished.add(input.step);
    return { v: mix(input.seed, input.up) };
  });
}

function newObserved(): Observed {
  return { calls: new Map(), violations: [], running: 0, peak: 0 };
}

function checkRun(dag: Dag, obs: Observed, result: ExecutionResult): void {
  const expected = expectedOutputs(dag);
  expect(obs.violations).toEqual([]);
  expect(result.status).toBe('completed');
  // Exactly once each (no retries configured, nothing fails).
  expect(Object.fromEntries(obs.calls)).toEqual(Object.fromEntries(dag.deps.map((_, i) => [id(i), 1])));
  expect(obs.peak).toBeLessThanOrEqual(dag.maxConcurrentSteps);
  const outputs = Object.fromEntries(Object.entries(result.steps).map(([k, s]) => [k, s.output]));
  expect(outputs).toEqual(expected);
  // Without declared outputs, the workflow's outputs are those of its leaf steps.
  const leaves = dag.deps.map((_, i) => i).filter((i) => !dag.deps.some((ds) => ds.includes(i)));
  expect(result.outputs).toEqual(Object.fromEntries(leaves.map((i) => [id(i), expected[id(i)]])));
}

describe('random DAGs', () => {
  it('run every step once, after its dependencies, within the concurrency bound, whatever the order agents finish in', async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), async (dag, picks) => {
        const { store, committed } = committedView(createMemoryStore());
        const obs = newObserved();
        const finished = new Set<string>();
        const pending: { step: string; release: () => void }[] = [];
        const node = nodeAgent(
          dag,
          committed,
          obs,
          (step) => {
            const gate = deferred<void>();
            pending.push({ step, release: () => gate.resolve() });
            return gate.promise;
          },
          finished,
        );
        const { engine } = testEngine([node], { store });
        const handle = await engine.start(workflowOf(dag));
        let done = false;
        void handle.result.then(() => {
          done = true;
        });
        // Finish the running agents one at a time, in an order fast-check chooses.
        for (let turn = 0; !done; turn++) {
          for (let spins = 0; !done && pending.length === 0; spins++) {
            if (spins > 20)
              throw new Error(`stalled with ${dag.deps.length - finished.size} steps unfinished`);
            await settle();
          }
          if (done) break;
          expect(pending.length).toBeLessThanOrEqual(dag.maxConcurrentSteps);
          const [next] = pending.splice(picks[turn % picks.length]! % pending.length, 1);
          next!.release();
          await settle();
        }
        checkRun(dag, obs, await handle.result);
      }),
      { numRuns: 100 },
    );
  });

  it('give the same outputs when agents take random numbers of microtask and macrotask hops', async () => {
    const hopsArb = fc.array(fc.array(fc.boolean(), { maxLength: 6 }), { minLength: 40, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(dagArb, hopsArb, async (dag, hops) => {
        const { store, committed } = committedView(createMemoryStore());
        const obs = newObserved();
        const node = nodeAgent(
          dag,
          committed,
          obs,
          async (step) => {
            // true: a macrotask hop (setImmediate); false: a microtask hop.
            for (const macro of hops[Number(step.slice(1))]!) {
              if (macro) await new Promise<void>((r) => setImmediate(r));
              else await Promise.resolve();
            }
          },
          new Set(),
        );
        const { engine } = testEngine([node], { store });
        checkRun(dag, obs, await engine.execute(workflowOf(dag)));
      }),
      { numRuns: 100 },
    );
  });
});
