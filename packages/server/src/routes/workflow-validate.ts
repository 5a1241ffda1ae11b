/**
 * `POST /workflows/validate`: the diagnostics of a document, as `orchestr8 validate` gives
 * them (codes, JSON pointers, and line:column when the document is sent as text), plus what
 * it asks beyond this host's capabilities. Nothing is stored or run. An invalid document is
 * a successful answer (`valid: false`); only a malformed request is an error.
 */
import { ErrorCode, hasCode } from '@orchestr8/common';
import type { CapabilityProblem } from '@orchestr8/core';
import { type Diagnostic, loadWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import type { Response } from 'express';
import type { ServerContext } from '../context.js';
import { reservedIdDiagnostic } from '../workflow-resolver.js';

/** `doc` passed the route's contract (contracts/workflows.ts): text or an object. */
export async function validateDocument(
  ctx: ServerContext,
  doc: string | Record<string, unknown>,
  res: Response,
): Promise<void> {
  const knownAgents = ctx.registry.list().map((a) => a.id);
  const loaded =
    typeof doc === 'string'
      ? loadWorkflow(doc, { knownAgents })
      : validateWorkflowObject(doc, { knownAgents });
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const workflow = loaded.ok ? loaded.workflow : undefined;
  if (workflow) {
    // What PUT and POST /workflows/execute would refuse: a reserved metadata.id.
    const reserved = reservedIdDiagnostic(workflow.id);
    if (reserved) diagnostics.push(reserved);
    try {
      ctx.engine.authorize(workflow);
    } catch (e) {
      if (!hasCode(e, ErrorCode.CAPABILITY_DENIED)) throw e;
      const problems = ((e as { details?: { problems?: CapabilityProblem[] } }).details?.problems ??
        []) as CapabilityProblem[];
      for (const p of problems) {
        const index = p.stepId === undefined ? -1 : workflow.steps.findIndex((s) => s.id === p.stepId);
        diagnostics.push({
          code: ErrorCode.CAPABILITY_DENIED,
          severity: 'error',
          message: `${p.stepId !== undefined ? `step "${p.stepId}": ` : ''}${p.message}`,
          pointer: index >= 0 ? `/steps/${index}` : '',
          hint: p.grant,
        });
      }
    }
  }
  const valid = diagnostics.every((d) => d.severity !== 'error');
  res.json({
    valid,
    diagnostics,
    ...(workflow
      ? {
          workflow: {
            id: workflow.id,
            version: workflow.version,
            hash: workflow.hash,
            steps: workflow.steps.length,
          },
        }
      : {}),
  });
}
