/**
 * Resources: the exposed workflows' documents (`orchestr8://workflows/<id>`) and execution
 * journals (`orchestr8://executions/<id>/journal`, NDJSON, redacted).
 */

import type { ReadResourceResult, Resource, ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { ToolContext } from './generic-tools.js';

const WORKFLOW = /^orchestr8:\/\/workflows\/([^/?#]+)$/;
const JOURNAL = /^orchestr8:\/\/executions\/([^/?#]+)\/journal$/;
/** A journal resource shows at most this many entries; the read_journal tool pages further. */
const JOURNAL_ENTRIES = 1000;

export const resourceTemplates: ResourceTemplate[] = [
  {
    uriTemplate: 'orchestr8://workflows/{workflowId}',
    name: 'workflow',
    title: 'Workflow document',
    description: 'The newest version of an exposed workflow, as JSON.',
    mimeType: 'application/json',
  },
  {
    uriTemplate: 'orchestr8://executions/{executionId}/journal',
    name: 'journal',
    title: 'Execution journal',
    description: 'The journal of an execution, one JSON entry per line (redacted).',
    mimeType: 'application/x-ndjson',
  },
];

export async function listResources(ctx: ToolContext): Promise<Resource[]> {
  return (await ctx.catalog.list()).map((w) => ({
    uri: `orchestr8://workflows/${encodeURIComponent(w.id)}`,
    name: w.id,
    ...(w.name !== undefined ? { title: w.name } : {}),
    description: w.description,
    mimeType: 'application/json',
  }));
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Orchestr8Error(ErrorCode.VALIDATION, `malformed resource URI component "${s}"`);
  }
}

export async function readResource(ctx: ToolContext, uri: string): Promise<ReadResourceResult> {
  const wf = WORKFLOW.exec(uri);
  if (wf) {
    const id = decode(wf[1]!);
    const w = await ctx.catalog.find(id);
    if (w === undefined || w.id !== id)
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no exposed workflow "${id}"`);
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(w.document, null, 2) }] };
  }
  const j = JOURNAL.exec(uri);
  if (j) {
    const id = decode(j[1]!);
    if (!ctx.engine.isRunning(id) && !(await ctx.store.getExecution(id)))
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${id}"`);
    const redactor = await ctx.views.redactor(id);
    const entries = await ctx.store.readJournal(id, { afterSeq: 0, limit: JOURNAL_ENTRIES });
    const text = entries.map((e) => `${JSON.stringify(redactor.redact(e))}\n`).join('');
    return { contents: [{ uri, mimeType: 'application/x-ndjson', text }] };
  }
  throw new Orchestr8Error(
    ErrorCode.NOT_FOUND,
    `unknown resource "${uri}" (expected orchestr8://workflows/<id> or orchestr8://executions/<id>/journal)`,
  );
}
