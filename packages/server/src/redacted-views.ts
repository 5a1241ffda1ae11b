/**
 * The redactor for what the API shows of an execution. The store keeps step outputs and
 * inputs whole (a resumed execution re-renders later templates from them), so every
 * response carrying them (results, step records, journal pages, event streams) is redacted
 * here with the execution's secrets, rebuilt from its stored definition and this process's
 * environment (the engine's, for a server started by `orchestr8 serve`).
 */
import {
  createRedactor,
  createViewRedaction,
  noRedaction,
  type Redactor,
  secretValuesOf,
  type ViewRedaction,
} from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { ServerContext } from './context.js';

/** Execution id -> definition hash, remembered for this many executions (a hash never changes). */
const REMEMBERED = 10_000;

interface Views {
  redaction: ViewRedaction;
  hashes: Map<string, string>;
}

const viewsByServer = new WeakMap<ServerContext, Views>();

function viewsOf(ctx: ServerContext): Views {
  let v = viewsByServer.get(ctx);
  if (v === undefined) {
    v = { redaction: createViewRedaction(ctx.store), hashes: new Map() };
    viewsByServer.set(ctx, v);
  }
  return v;
}

/** The redactor for an execution's views; inactive (free) when its workflow has no secrets. */
export async function redactorForExecution(ctx: ServerContext, executionId: string): Promise<Redactor> {
  const views = viewsOf(ctx);
  let hash = views.hashes.get(executionId);
  if (hash === undefined) {
    const record = await ctx.store.getExecution(executionId);
    if (record === undefined) return noRedaction;
    hash = record.definitionHash;
    if (views.hashes.size >= REMEMBERED) views.hashes.delete(views.hashes.keys().next().value!);
    views.hashes.set(executionId, hash);
  }
  return views.redaction.forExecution({ definitionHash: hash });
}

/** The redactor for an execution of a compiled workflow just started here: no store read. */
export function redactorForWorkflow(workflow: CompiledWorkflow): Redactor {
  if (Object.keys(workflow.secretRefs).length === 0) return noRedaction;
  const values = secretValuesOf(workflow.secretRefs, process.env);
  return values.length === 0 ? noRedaction : createRedactor(values);
}
