import type { Engine } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';

/** The newest registered version of each workflow that declares triggers (compiled once per hash). */
export async function registeredWorkflows(
  engine: Engine,
  cache: ReadonlyMap<string, CompiledWorkflow>,
): Promise<{ workflows: CompiledWorkflow[]; compiled: Map<string, CompiledWorkflow> }> {
  const defs = await engine.store.listDefinitions();
  const ids = [...new Set(defs.filter((d) => hasTriggers(d.document)).map((d) => d.id))];
  const workflows: CompiledWorkflow[] = [];
  const compiled = new Map<string, CompiledWorkflow>();
  for (const id of ids) {
    const newest = await engine.store.getDefinition(id);
    if (!newest || !hasTriggers(newest.document)) continue;
    let w = cache.get(newest.hash);
    if (!w)
      try {
        w = engine.compile(newest.document);
      } catch {
        // A registered version that no longer compiles here (e.g. an agent missing) stays inactive.
        continue;
      }
    compiled.set(newest.hash, w);
    workflows.push(w);
  }
  return { workflows, compiled };
}

function hasTriggers(doc: unknown): boolean {
  const t = (doc as { triggers?: unknown } | null)?.triggers;
  return Array.isArray(t) && t.length > 0;
}
