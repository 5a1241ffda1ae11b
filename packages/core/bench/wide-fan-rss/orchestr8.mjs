/**
 * W2 at 10,000 on orchestr8 as a program runs it: plain node, the built @orchestr8/core (dist),
 * its default memory store, an event subscriber, the document validated and compiled by
 * @orchestr8/schema. Also reports RSS once the document is compiled, so a line shows what
 * loading, compiling and running each take.
 */
import { createEngine } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { fan, NOOP } from '../dag.mjs';
import { measure, WIDTH } from './probe.mjs';

const noop = { id: NOOP, execute: (input) => input };
const registry = {
  get: (id) => (id === NOOP ? noop : undefined),
  has: (id) => id === NOOP,
  list: () => [noop],
};

await measure(async () => {
  const engine = createEngine({ registry });
  engine.events.subscribe(() => {});
  const { ok, workflow, diagnostics } = validateWorkflowObject(fan(WIDTH, WIDTH));
  if (!ok || !workflow) throw new Error(`wide fan invalid: ${JSON.stringify(diagnostics.slice(0, 3))}`);
  // What validating and compiling took, before the run adds its own.
  const compiledRssMb = process.memoryUsage.rss() / 1024 / 1024;
  const r = await engine.execute(workflow);
  if (r.status !== 'completed') throw new Error(`wide fan: ${r.status} ${JSON.stringify(r.error)}`);
  await engine.events.flush();
  await engine.close();
  return { compiledRssMb };
});
