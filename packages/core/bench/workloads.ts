/** Workflow documents for the engine benchmarks (W1-W4), built in code. */
import { workflowDocument as base, type Doc, NOOP } from './dag.mjs';

export {
  asyncAutoTasks,
  type Doc,
  fan,
  NOOP,
  type PlainStep,
  plainSteps,
  runPlainDag,
  workflowDocument,
} from './dag.mjs';

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
