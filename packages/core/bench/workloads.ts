/** Workflow documents for the engine benchmarks (W1-W4), built in code. */
export const NOOP = '@bench/noop';

type Doc = Record<string, unknown>;

const base = (id: string, steps: unknown[], maxConcurrentSteps: number): Doc => ({
  version: '1.0.0',
  metadata: { id, name: id },
  steps,
  policies: { concurrency: { maxConcurrentSteps } },
});

/** W1: a chain of n steps, each reading its predecessor's output. */
export function chain(n: number, maxConcurrentSteps = 1000): Doc {
  const steps = [];
  for (let i = 0; i < n; i++) {
    steps.push({
      id: `s${i}`,
      agent: NOOP,
      input: i === 0 ? { v: 0 } : { v: `\${steps.s${i - 1}.output.v ?? 0}` },
      ...(i > 0 ? { dependencies: [`s${i - 1}`] } : {}),
    });
  }
  return base(`w1-chain-${n}`, steps, maxConcurrentSteps);
}

/** W2: one step, then n in parallel, then one join. */
export function fan(n: number, maxConcurrentSteps = 1000): Doc {
  const mids = [];
  for (let i = 0; i < n; i++)
    mids.push({ id: `p${i}`, agent: NOOP, input: { v: i }, dependencies: ['start'] });
  return base(
    `w2-fan-${n}`,
    [
      { id: 'start', agent: NOOP, input: { v: 0 } },
      ...mids,
      { id: 'join', agent: NOOP, input: { v: 1 }, dependencies: mids.map((m) => m.id) },
    ],
    maxConcurrentSteps,
  );
}

/** W3/W4: a 10-step diamond: a -> b1..b8 -> z, each reading its upstream output. */
export function diamond(maxConcurrentSteps = 1000): Doc {
  const mids = [];
  for (let i = 1; i <= 8; i++)
    mids.push({ id: `b${i}`, agent: NOOP, input: { v: '${steps.a.output.v}' }, dependencies: ['a'] });
  return base(
    'w3-diamond',
    [
      { id: 'a', agent: NOOP, input: { v: '${inputs.n ?? 1}' } },
      ...mids,
      { id: 'z', agent: NOOP, input: { v: '${steps.b8.output.v}' }, dependencies: mids.map((m) => m.id) },
    ],
    maxConcurrentSteps,
  );
}

/** The same shapes on a plain hand-written Promise DAG executor: the floor any engine is compared with. */
export interface PlainStep {
  id: string;
  deps: string[];
}

export function plainSteps(doc: Doc): PlainStep[] {
  return (doc.steps as { id: string; dependencies?: string[] }[]).map((s) => ({
    id: s.id,
    deps: s.dependencies ?? [],
  }));
}

export async function runPlainDag(
  steps: readonly PlainStep[],
  agent: (input: unknown) => Promise<unknown>,
): Promise<Map<string, unknown>> {
  const promises = new Map<string, Promise<unknown>>();
  for (const s of steps) {
    const deps = s.deps.map((d) => promises.get(d)!);
    promises.set(
      s.id,
      deps.length === 0
        ? agent({ v: 1 })
        : deps.length === 1
          ? deps[0]!.then((v) => agent(v))
          : Promise.all(deps).then((v) => agent(v[0])),
    );
  }
  const out = new Map<string, unknown>();
  for (const [id, p] of promises) out.set(id, await p);
  return out;
}
