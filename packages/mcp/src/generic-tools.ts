/**
 * The generic tools: start, follow, list and cancel executions, read a journal, validate a
 * document, list and decide approvals. Each checks its arguments against its input schema
 * first (a tool error naming the field), then does what the matching HTTP route does.
 */

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import {
  approvalPage,
  type Engine,
  type ExecutionHandle,
  type ExecutionResult,
  ExecutionStatus,
  type StartOptions,
  type Store,
} from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { Catalog } from './catalog.js';
import { type ExecutionViews, isTerminal, resultView, summary } from './execution-views.js';
import { failed, fromError, ok } from './tool-result.js';

export interface ToolDef {
  name: string;
  title?: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean };
  call(args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult>;
}

export interface ToolContext {
  engine: Engine;
  store: Store;
  catalog: Catalog;
  views: ExecutionViews;
  /** Default bound on how long a call waits for a result, in ms. */
  waitMs: number;
  /** Upper bound of `waitSeconds`, in ms. */
  maxWaitMs: number;
  /** Whether `orchestr8_start_execution` and `orchestr8_validate` take inline documents. */
  documents: boolean;
}

const executionId = { type: 'string', minLength: 1, description: 'The execution id.' };
const waitSeconds = {
  type: 'number',
  minimum: 0,
  description: 'How long to wait for the execution to finish before answering with its current status.',
};
const documentSchema = {
  description: 'A workflow document: an object, or YAML/JSON text.',
  anyOf: [{ type: 'object' }, { type: 'string', minLength: 1 }],
};

function waitOf(ctx: ToolContext, args: Record<string, unknown>, fallback: number): number {
  const s = args.waitSeconds;
  return typeof s === 'number' ? Math.min(s * 1000, ctx.maxWaitMs) : fallback;
}

async function existing(ctx: ToolContext, id: string): Promise<CallToolResult | undefined> {
  if (ctx.engine.isRunning(id) || (await ctx.store.getExecution(id))) return undefined;
  return failed({ code: ErrorCode.NOT_FOUND, message: `no execution "${id}"` });
}

/** Starts a compiled workflow and answers with its result, or its status after `waitMs`. */
export async function startAndWait(
  ctx: ToolContext,
  start: () => Promise<ExecutionHandle>,
  waitMs: number,
  signal: AbortSignal,
): Promise<CallToolResult> {
  let handle: ExecutionHandle;
  try {
    handle = await start();
  } catch (e) {
    if (e instanceof Orchestr8Error && e.code === ErrorCode.VALIDATION && /^invalid inputs/.test(e.message))
      return fromError(e, "the arguments do not match the workflow's inputs schema");
    return fromError(e);
  }
  const id = handle.id;
  // Started here: its result promise settles the moment it finishes; no polling.
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const finished = await Promise.race([
    handle.result.then(
      (r) => (isTerminal(r.status) ? r : undefined),
      () => undefined,
    ),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
      onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort) signal.removeEventListener('abort', onAbort);
  const redactor = await ctx.views.redactor(id);
  const r = finished ?? (await ctx.engine.getResult(id));
  if (r === undefined) return failed({ code: ErrorCode.NOT_FOUND, message: `no execution "${id}"` });
  const view = resultView(redactor.redact(r) as ExecutionResult);
  if (r.status === ExecutionStatus.failed || r.status === ExecutionStatus.cancelled) {
    return failed({
      code: r.error?.code ?? r.status.toUpperCase(),
      message: `execution ${id} ${r.status}${r.error ? `: ${r.error.message}` : ''}`,
      details: view,
    });
  }
  return ok(view);
}

export function genericTools(ctx: ToolContext): ToolDef[] {
  const { engine, store } = ctx;
  const tools: ToolDef[] = [
    {
      name: 'orchestr8_start_execution',
      title: 'Start a workflow execution',
      description:
        'Starts an execution of an exposed workflow (workflowId) or of a workflow document (document), with inputs. ' +
        'Answers with the outputs when it finishes within waitSeconds, else with its execution id and status.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          workflowId: { type: 'string', minLength: 1 },
          version: { type: 'string', minLength: 1 },
          ...(ctx.documents ? { document: documentSchema } : {}),
          inputs: { type: 'object' },
          correlationId: { type: 'string', maxLength: 255 },
          waitSeconds,
        },
      },
      async call(args, signal) {
        const hasId = typeof args.workflowId === 'string';
        if (hasId === (args.document !== undefined))
          return failed({
            code: ErrorCode.VALIDATION,
            message: ctx.documents
              ? 'give exactly one of "workflowId" and "document"'
              : '"workflowId" is required',
          });
        const opts: StartOptions = { inputs: args.inputs ?? {} };
        if (typeof args.correlationId === 'string') opts.correlationId = args.correlationId;
        return startAndWait(
          ctx,
          async () => {
            let workflow: CompiledWorkflow;
            if (hasId) {
              const id = args.workflowId as string;
              const exposed = await ctx.catalog.find(id);
              if (exposed === undefined || exposed.id !== id || !(await ctx.catalog.exposes(id)))
                throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no exposed workflow "${id}"`);
              if (typeof args.version === 'string') {
                const def = await store.getDefinition(id, args.version);
                if (def === undefined)
                  throw new Orchestr8Error(
                    ErrorCode.NOT_FOUND,
                    `workflow "${id}" has no version "${args.version}"`,
                  );
                workflow = engine.compile(def.document);
              } else workflow = exposed.compile();
            } else workflow = engine.compile(args.document);
            return engine.start(workflow, opts);
          },
          waitOf(ctx, args, ctx.waitMs),
          signal,
        );
      },
    },
    {
      name: 'orchestr8_get_execution',
      title: 'Get an execution',
      description:
        'The status, outputs and step statuses of an execution. With waitSeconds, waits until it finishes or the time is up.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['executionId'],
        properties: { executionId, waitSeconds },
      },
      annotations: { readOnlyHint: true },
      async call(args, signal) {
        const id = args.executionId as string;
        const r = await ctx.views.waitFor(id, waitOf(ctx, args, 0), signal);
        if (r === undefined) return failed({ code: ErrorCode.NOT_FOUND, message: `no execution "${id}"` });
        return ok(resultView(r));
      },
    },
    {
      name: 'orchestr8_list_executions',
      title: 'List executions',
      description: 'Recent executions, newest first; filter by status and workflow id.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'array', items: { type: 'string', enum: Object.values(ExecutionStatus) } },
          workflowId: { type: 'string', minLength: 1 },
          limit: { type: 'integer', minimum: 1, maximum: 200 },
          cursor: { type: 'string' },
        },
      },
      annotations: { readOnlyHint: true },
      async call(args) {
        try {
          const page = await store.listExecutions({
            limit: (args.limit as number | undefined) ?? 20,
            ...(Array.isArray(args.status) && args.status.length > 0
              ? { status: args.status as ExecutionStatus[] }
              : {}),
            ...(typeof args.workflowId === 'string' ? { workflowId: args.workflowId } : {}),
            ...(typeof args.cursor === 'string' ? { cursor: args.cursor } : {}),
          });
          return ok({
            items: page.items.map(summary),
            ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
          });
        } catch (e) {
          return fromError(e, 'cannot list executions');
        }
      },
    },
    {
      name: 'orchestr8_cancel_execution',
      title: 'Cancel an execution',
      description:
        'Asks a running or waiting execution to stop: running steps get their grace period, then it is cancelled.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['executionId'],
        properties: { executionId, reason: { type: 'string', maxLength: 1000 } },
      },
      annotations: { destructiveHint: true, idempotentHint: true },
      async call(args) {
        const id = args.executionId as string;
        const reason = (args.reason as string | undefined) ?? 'cancelled by an MCP client';
        const current = await engine.getResult(id);
        if (current === undefined)
          return failed({ code: ErrorCode.NOT_FOUND, message: `no execution "${id}"` });
        if (isTerminal(current.status))
          return failed({
            code: 'EXECUTION_FINISHED',
            message: `execution "${id}" already finished (${current.status})`,
          });
        let delivery = 'in-process';
        if (!engine.cancel(id, { reason })) {
          // Run by another process on the store: recorded, and acted on by whoever runs it.
          delivery = 'recorded';
          const outcome = await store.requestCancel(id, reason, Date.now());
          if (outcome === 'finished')
            return failed({ code: 'EXECUTION_FINISHED', message: `execution "${id}" already finished` });
        }
        return ok({ executionId: id, cancelRequested: true, delivery, reason });
      },
    },
    {
      name: 'orchestr8_read_journal',
      title: "Read an execution's journal",
      description:
        'The journal of an execution (every step start, attempt, output and error, redacted), after a sequence number.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['executionId'],
        properties: {
          executionId,
          after: { type: 'integer', minimum: 0, description: 'Entries after this sequence number.' },
          limit: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      },
      annotations: { readOnlyHint: true },
      async call(args) {
        const id = args.executionId as string;
        const missing = await existing(ctx, id);
        if (missing) return missing;
        const limit = (args.limit as number | undefined) ?? 200;
        const entries = await store.readJournal(id, {
          afterSeq: (args.after as number | undefined) ?? 0,
          limit,
        });
        const redactor = await ctx.views.redactor(id);
        return ok({
          executionId: id,
          entries: entries.map((e) => redactor.redact(e)),
          ...(entries.length === limit ? { next: entries[entries.length - 1]!.seq } : {}),
        });
      },
    },
    {
      name: 'orchestr8_validate',
      title: 'Validate a workflow document',
      description:
        "Validates a workflow document against the schema, this host's agents and the operator's capabilities, without running it.",
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['document'],
        properties: { document: documentSchema },
      },
      annotations: { readOnlyHint: true },
      async call(args) {
        try {
          const workflow = engine.compile(args.document);
          engine.authorize(workflow);
          return ok({
            valid: true,
            id: workflow.id,
            version: workflow.version,
            steps: workflow.steps.map((s) => ({ id: s.id, agent: s.agentId, dependencies: s.dependencies })),
          });
        } catch (e) {
          return fromError(e, 'the document is not valid');
        }
      },
    },
    {
      name: 'orchestr8_list_approvals',
      title: 'List pending approvals',
      description:
        'Approval steps waiting for a decision, oldest first, with their form (a JSON Schema) if any: up to `limit` (default 20), and `nextCursor` to pass as `cursor` while more are pending.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200 },
          cursor: { type: 'string' },
        },
      },
      annotations: { readOnlyHint: true },
      async call(args) {
        try {
          const cursor = typeof args.cursor === 'string' ? args.cursor : undefined;
          return ok(
            await approvalPage((q) => engine.approvals(q), (args.limit as number | undefined) ?? 20, cursor),
          );
        } catch (e) {
          return fromError(e, 'cannot list approvals');
        }
      },
    },
    {
      name: 'orchestr8_decide_approval',
      title: 'Approve or reject',
      description:
        "Approves or rejects a waiting approval step; data must satisfy the step's form. The execution then goes on.",
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        required: ['executionId', 'stepId', 'decision'],
        properties: {
          executionId,
          stepId: { type: 'string', minLength: 1 },
          decision: { type: 'string', enum: ['approve', 'reject'] },
          by: { type: 'string', minLength: 1, description: 'Who decides (checked against the approvers).' },
          data: { description: "The form's data." },
          comment: { type: 'string' },
        },
      },
      annotations: { destructiveHint: false },
      async call(args) {
        const decision = args.decision as 'approve' | 'reject';
        try {
          await engine.decide(args.executionId as string, args.stepId as string, {
            decision,
            ...(typeof args.by === 'string' ? { by: args.by } : {}),
            ...(args.data !== undefined ? { data: args.data } : {}),
            ...(typeof args.comment === 'string' ? { comment: args.comment } : {}),
          });
        } catch (e) {
          return fromError(e);
        }
        return ok({
          executionId: args.executionId,
          stepId: args.stepId,
          decision: decision === 'approve' ? 'approved' : 'rejected',
        });
      },
    },
  ];
  return tools;
}
