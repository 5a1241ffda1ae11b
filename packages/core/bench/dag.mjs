/**
 * The DAG shapes shared by the TypeScript benchmarks (through workloads.ts) and the plain-node
 * peak-RSS children in wide-fan-rss/, which load no TypeScript loader: plain JavaScript, typed
 * by dag.d.mts.
 */
export const NOOP = '@bench/noop';

/** A workflow document with these steps and a bound on the steps running at once. */
export function workflowDocument(id, steps, maxConcurrentSteps) {
  return {
    version: '1.0.0',
    metadata: { id, name: id },
    steps,
    policies: { concurrency: { maxConcurrentSteps } },
  };
}

/** W2: one step, then n in parallel, then one join. */
export function fan(n, maxConcurrentSteps = 1000) {
  const mids = [];
  for (let i = 0; i < n; i++)
    mids.push({ id: `p${i}`, agent: NOOP, input: { v: i }, dependencies: ['start'] });
  return workflowDocument(
    `w2-fan-${n}`,
    [
      { id: 'start', agent: NOOP, input: { v: 0 } },
      ...mids,
      { id: 'join', agent: NOOP, input: { v: 1 }, dependencies: mids.map((m) => m.id) },
    ],
    maxConcurrentSteps,
  );
}

/** A document's steps as the baselines take them: an id and the ids it waits for. */
export function plainSteps(doc) {
  return doc.steps.map((s) => ({ id: s.id, deps: s.dependencies ?? [] }));
}

/** The same shape on a plain hand-written Promise DAG executor: the floor any engine is compared with. */
export async function runPlainDag(steps, agent) {
  const promises = new Map();
  for (const s of steps) {
    const deps = s.deps.map((d) => promises.get(d));
    promises.set(
      s.id,
      deps.length === 0
        ? agent({ v: 1 })
        : deps.length === 1
          ? deps[0].then((v) => agent(v))
          : Promise.all(deps).then((v) => agent(v[0])),
    );
  }
  const out = new Map();
  for (const [id, p] of promises) out.set(id, await p);
  return out;
}

/** The same DAG as async.auto tasks: each an async function returning its upstream value. */
export function asyncAutoTasks(steps, agent = (v) => Promise.resolve(v)) {
  const tasks = {};
  for (const s of steps) {
    if (s.deps.length === 0) tasks[s.id] = async () => agent({ v: 1 });
    else {
      const first = s.deps[0];
      tasks[s.id] = [...s.deps, async (results) => agent(results[first])];
    }
  }
  return tasks;
}
