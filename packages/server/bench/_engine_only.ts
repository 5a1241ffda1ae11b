import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { openSqliteStore } from '@orchestr8/store-sqlite';

const store = await openSqliteStore({ path: `/tmp/o8smoke/eng-${process.pid}.db` });
const registry = createAgentRegistry(builtinAgents);
const engine = createEngine({ registry, store });
engine.events.subscribe(() => {});
const wf = validateWorkflowObject({
  version: '1.0.0',
  metadata: { id: 'one' },
  steps: [{ id: 'a', agent: '@orchestr8/echo', input: { n: 1 } }],
}).workflow!;
for (const dur of [1000, 3000]) {
  let n = 0;
  const end = performance.now() + dur;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (performance.now() < end) {
        await engine.execute(wf);
        n++;
      }
    }),
  );
  console.log(`${((n / dur) * 1000).toFixed(0)} exec/s`);
}
await store.close();
