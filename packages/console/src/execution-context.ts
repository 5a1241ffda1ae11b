/**
 * What the page needs of an execution beyond `GET /executions/:id`: its inputs, what started
 * it (correlation id, parent), and its definition (to draw the graph, even for a document
 * sent inline and never registered). Behind the server's API-key auth like any data route,
 * and redacted like every other view of an execution.
 */
import { createViewRedaction, type Store } from '@orchestr8/core';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { CONSOLE_PREFIX, problem } from './static-app.js';

export type ConsoleStore = Pick<Store, 'getExecution' | 'getDefinitionByHash'>;

export interface ExecutionContextView {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  inputs: unknown;
  correlationId?: string;
  parentExecutionId?: string;
  parentStepId?: string;
  createdAt: number;
  definition?: { id: string; version: string; hash: string; document: unknown };
}

function notFound(res: Response, id: string): void {
  problem(res, 404, 'NOT_FOUND', `no execution "${id.slice(0, 200)}"`);
}

export function executionContextRouter(store: ConsoleStore): RequestHandler {
  const redaction = createViewRedaction(store);
  const router = Router();
  router.get(`${CONSOLE_PREFIX}/api/executions/:id`, async (req: Request, res: Response, next) => {
    try {
      const id = String(req.params.id);
      const rec = await store.getExecution(id);
      if (!rec) return notFound(res, id);
      const def = await store.getDefinitionByHash(rec.definitionHash);
      const view: ExecutionContextView = {
        executionId: rec.id,
        workflowId: rec.workflowId,
        workflowVersion: rec.workflowVersion,
        inputs: rec.inputs,
        createdAt: rec.createdAt,
        ...(rec.correlationId !== undefined ? { correlationId: rec.correlationId } : {}),
        ...(rec.parentExecutionId !== undefined ? { parentExecutionId: rec.parentExecutionId } : {}),
        ...(rec.parentStepId !== undefined ? { parentStepId: rec.parentStepId } : {}),
        ...(def
          ? { definition: { id: def.id, version: def.version, hash: def.hash, document: def.document } }
          : {}),
      };
      const redactor = await redaction.forExecution({ definitionHash: rec.definitionHash });
      res.setHeader('Cache-Control', 'no-store');
      res.json(redactor.redact(view));
    } catch (e) {
      next(e);
    }
  });
  return router;
}
