/** Compiling each crew's workflow against the engine (its agents checked by the engine's registry). */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { CompiledStream } from './load-stream.js';

/**
 * Finds a workflow a crew names by id: a document (object or YAML/JSON text) or a compiled
 * workflow, or undefined when there is none.
 */
export type WorkflowResolver = (
  id: string,
) => unknown | CompiledWorkflow | undefined | Promise<unknown | CompiledWorkflow | undefined>;

function isCompiled(value: unknown): value is CompiledWorkflow {
  return (
    typeof value === 'object' && value !== null && 'document' in value && 'steps' in value && 'hash' in value
  );
}

export async function compileCrews(
  stream: CompiledStream,
  engine: Engine,
  resolveWorkflow?: WorkflowResolver,
): Promise<Map<string, CompiledWorkflow>> {
  const out = new Map<string, CompiledWorkflow>();
  for (const crew of stream.crews) {
    if ('document' in crew.workflow) {
      out.set(crew.id, engine.compile(crew.workflow.document));
      continue;
    }
    const id = crew.workflow.id;
    const found = resolveWorkflow ? await resolveWorkflow(id) : undefined;
    if (found === undefined)
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `crew "${crew.id}": no workflow "${id}"`);
    out.set(crew.id, isCompiled(found) ? found : engine.compile(found));
  }
  return out;
}
