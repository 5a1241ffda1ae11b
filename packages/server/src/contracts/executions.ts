/** Executions: start one, list, read, read the journal, cancel. */
import { z } from 'zod';
import {
  anObject,
  EXECUTION_STATUSES,
  ExecutionIdParams,
  executionStatus,
  IdempotencyKey,
  IfNoneMatch,
  idempotentReplayed,
  location,
  SerializedError,
  WorkflowDocument,
} from './common.js';
import {
  component,
  defineRoute,
  forbidden,
  header,
  json,
  problem,
  queryInt,
  queryList,
  queryString,
  shared,
} from './contract.js';

const tags = ['Executions'];

export const StepState = component(
  'StepState',
  z.object({
    executionId: z.string(),
    stepId: z.string(),
    status: z.enum(['pending', 'running', 'retrying', 'completed', 'failed', 'skipped', 'cancelled']),
    attempts: z.number().int(),
    output: z.unknown().optional(),
    error: SerializedError.optional(),
    startedAt: z.number().int().optional(),
    finishedAt: z.number().int().optional(),
    statusReason: z.string().optional().describe('Why the step was skipped or cancelled.'),
    skipReason: z.string().optional().describe('Skipped steps only: the same as statusReason.'),
    aliasFor: z.string().optional(),
    idempotencyKey: z.string().optional(),
  }),
);

export const Execution = component(
  'Execution',
  z
    .object({
      executionId: z.string(),
      workflowId: z.string(),
      workflowVersion: z.string(),
      status: executionStatus(),
      outputs: z.unknown().optional(),
      error: SerializedError.optional(),
      statusReason: z.string().optional(),
      steps: z.record(z.string(), StepState),
      startedAt: z.number().int().optional(),
      finishedAt: z.number().int().optional(),
      durationMs: z.number().optional(),
      journalDropped: z.number().int().optional(),
      inputs: z
        .unknown()
        .optional()
        .describe('GET /executions/{id} only: the inputs it ran with (defaults applied, redacted)'),
      createdAt: z.number().int().optional().describe('GET /executions/{id} only'),
      correlationId: z.string().optional().describe('GET /executions/{id} only: what started it'),
      trigger: z.string().optional().describe('GET /executions/{id} only: the trigger that started it'),
      parent: z
        .object({ executionId: z.string().optional(), stepId: z.string().optional() })
        .optional()
        .describe(
          'GET /executions/{id} only: the execution (and step) that started this one as a sub-workflow',
        ),
      children: z
        .array(
          z.object({
            executionId: z.string().optional(),
            stepId: z.string().optional(),
            workflowId: z.string().optional(),
            status: executionStatus().optional(),
            createdAt: z.number().int().optional(),
          }),
        )
        .optional()
        .describe(
          'GET /executions/{id} only: the sub-workflow executions it started, newest first (at most 100)',
        ),
      rerunOf: z
        .object({ executionId: z.string().optional(), fromStep: z.string().optional() })
        .optional()
        .describe('GET /executions/{id} only: the execution this one reruns, and from which step'),
      reruns: z
        .array(
          z.object({
            executionId: z.string().optional(),
            fromStep: z.string().optional(),
            status: executionStatus().optional(),
            createdAt: z.number().int().optional(),
          }),
        )
        .optional()
        .describe('GET /executions/{id} only: the reruns of this execution, newest first (at most 100)'),
    })
    .describe('An execution and the state of its steps; times are epoch milliseconds.'),
);

const workflowMessage = 'must be a workflow document (an object, or YAML/JSON text)';
const nonEmpty = 'must be a non-empty string';
const maxSteps = 'must be an integer from 1 to 10000';
const correlation = 'must be a string of at most 255 characters';

export const ExecuteRequest = component(
  'ExecuteRequest',
  z
    .strictObject({
      workflow: z
        .union([WorkflowDocument, z.string()], { error: workflowMessage })
        .optional()
        .describe(
          'An inline document, as an object or as YAML/JSON text (text gives diagnostics with line:column).',
        ),
      workflowId: z
        .string({ error: nonEmpty })
        .min(1, nonEmpty)
        .optional()
        .describe('A workflow registered with PUT /workflows/{id}.'),
      version: z
        .string({ error: nonEmpty })
        .min(1, nonEmpty)
        .optional()
        .describe('With workflowId: the version to run (default: the newest).'),
      inputs: anObject()
        .optional()
        .describe("Checked against the workflow's inputs schema; its defaults are applied."),
      options: z
        .strictObject({
          correlationId: z.string({ error: correlation }).max(255, correlation).optional(),
          maxConcurrentSteps: z
            .number({ error: maxSteps })
            .int(maxSteps)
            .min(1, maxSteps)
            .max(10_000, maxSteps)
            .optional(),
        })
        .optional(),
    })
    .superRefine((b, ctx) => {
      if ((b.workflow === undefined) === (b.workflowId === undefined))
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'give exactly one of "workflow" (a document) and "workflowId"',
        });
      else if (b.version !== undefined && b.workflowId === undefined)
        ctx.addIssue({ code: 'custom', path: ['version'], message: '"version" goes with "workflowId"' });
    })
    .describe('Exactly one of `workflow` and `workflowId`.'),
);

export const ExecutionSummary = component(
  'ExecutionSummary',
  z.object({
    executionId: z.string(),
    workflowId: z.string(),
    workflowVersion: z.string(),
    status: executionStatus(),
    statusReason: z.string().optional(),
    correlationId: z.string().optional(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    startedAt: z.number().int().optional(),
    finishedAt: z.number().int().optional(),
    error: SerializedError.optional(),
  }),
);

export const ExecutionPage = component(
  'ExecutionPage',
  z.object({
    items: z.array(ExecutionSummary),
    nextCursor: z
      .string()
      .optional()
      .describe('Pass as `cursor` for the next page; absent on the last page.'),
  }),
);

export const JournalEntry = component(
  'JournalEntry',
  z
    .object({
      seq: z.number().int(),
      ts: z.number().int(),
      elapsedMs: z.number(),
      type: z.string().meta({ examples: ['execution.started', 'step.completed', 'execution.completed'] }),
      stepId: z.string().optional(),
      attempt: z.number().int().optional(),
      data: z.unknown().optional(),
      executionId: z.string().optional(),
      workflowId: z.string().optional(),
    })
    .describe(
      'One line of the NDJSON journal; also the `data` of an event-stream event (with executionId and workflowId).',
    ),
);

export const CancelAccepted = component(
  'CancelAccepted',
  z
    .intersection(
      Execution,
      z.object({
        cancelRequested: z.literal(true),
        cancelRequest: z.object({
          reason: z.string(),
          requestedAt: z.number().int().describe('epoch milliseconds'),
          delivery: z
            .enum(['in-process', 'recorded'])
            .describe(
              '`in-process`: this server runs the execution and is stopping it. `recorded`: another process ' +
                'runs it and stops it within about a second, or none does and it is cancelled when resumed.',
            ),
        }),
      }),
    )
    .describe('The execution as it is now, with the cancel request just taken.'),
);

/** Epoch milliseconds or an ISO-8601 date-time; `timeOf` reads it. */
const isTime = (v: string) => Number.isFinite(timeOf(v));
export const timeOf = (v: string): number =>
  /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
const queryTime = (description: string) =>
  queryString()
    .refine(isTime, 'must be epoch milliseconds or an ISO-8601 date-time')
    .optional()
    .describe(description);

const statusList = queryList(
  z.enum(EXECUTION_STATUSES, { error: `must be one of ${EXECUTION_STATUSES.join(', ')}` }),
);

/** The 403 of a route that checks a document against what this server grants (execute, PUT). */
export const CAPABILITY_DENIED =
  'CAPABILITY_DENIED: the document asks for more than this server grants; `problems` lists each ask and how it is granted';

const started = { Location: location, 'Idempotent-Replayed': idempotentReplayed };

export const execute = defineRoute({
  method: 'post',
  path: '/workflows/execute',
  operationId: 'executeWorkflow',
  summary: 'Start an execution',
  tags,
  description:
    'Validates the document (exactly as `orchestr8 validate` does) and the inputs, then starts an execution. ' +
    'Asynchronous by default (202). With `Prefer: wait=<seconds>` or `?wait=<seconds>` (at most the server maximum, 60 s by default), ' +
    'waits for the result: 200 when it finished in time, else 202. With an `Idempotency-Key`, the same key and the same request ' +
    'return the same execution (`Idempotent-Replayed: true`), for as long as the key lives (24 h by default), across restarts; ' +
    'the same key with a different request is 422 IDEMPOTENCY_KEY_REUSED.',
  query: z.object({
    wait: queryString()
      .regex(/^\d+(\.\d+)?$/, 'must be a non-negative number of seconds')
      .transform(Number)
      .pipe(z.number().min(0))
      .optional()
      .describe('Seconds to wait for the result'),
  }),
  headers: [
    IdempotencyKey,
    { name: 'Prefer', component: 'Prefer', description: '`wait=<seconds>`', schema: z.string() },
    {
      name: 'traceparent',
      component: 'Traceparent',
      description:
        "W3C Trace Context: the execution's trace continues the caller's (when the server exports traces)",
      schema: z.string(),
    },
  ],
  body: {
    schema: ExecuteRequest,
    required: true,
    missing: 'a JSON body is required: {"workflow": {...}} or {"workflowId": "..."}',
  },
  responses: {
    '200': json('Finished within the wait', Execution, started),
    '202': json('Accepted: the execution runs; follow Location', Execution, started),
    '400': problem('Malformed request: INVALID_JSON, BAD_REQUEST (with `errors`), IDEMPOTENCY_KEY_INVALID'),
    '403': forbidden(CAPABILITY_DENIED),
    '404': problem('The workflowId (or version) is not registered'),
    '413': shared('PayloadTooLarge'),
    '415': shared('UnsupportedMediaType'),
    '422': problem('VALIDATION (document or inputs, with `errors`) or IDEMPOTENCY_KEY_REUSED'),
    '429': problem(
      "RATE_LIMITED: over the document's policies.flow (`reason`: rate_limited or queue_full; Retry-After), or the server's rate limit",
    ),
  },
});

export const listExecutions = defineRoute({
  method: 'get',
  path: '/executions',
  operationId: 'listExecutions',
  summary: 'List executions, newest first',
  tags,
  query: z.object({
    status: statusList.optional().describe('Statuses, comma-separated and/or repeated'),
    workflowId: queryString().optional(),
    workflow: queryString().optional().describe('Alias of workflowId'),
    trigger: queryString()
      .optional()
      .describe(
        'Only executions this trigger started (correlation id `trigger:<name>@<fire time>` or `trigger:<name>#<id>`)',
      ),
    correlationId: queryString()
      .optional()
      .describe('Only executions whose correlationId starts with this (exact prefix, no wildcards)'),
    since: queryTime('Only executions created at or after this time (epoch milliseconds or ISO-8601)'),
    until: queryTime('Only executions created before this time (epoch milliseconds or ISO-8601)'),
    idPrefix: queryString()
      .optional()
      .describe('Only executions whose id starts with this (exact prefix, no wildcards)'),
    parentExecutionId: queryString()
      .optional()
      .describe('Only the sub-workflow executions this execution started'),
    limit: queryInt(1, 1000).default(50),
    cursor: queryString().optional().describe('nextCursor of the previous page'),
  }),
  responses: {
    '200': json('A page', ExecutionPage, { Link: header('rel="next" when there are more') }),
    '400': problem('Bad status, time, limit or cursor'),
  },
});

export const getExecution = defineRoute({
  method: 'get',
  path: '/executions/:id',
  operationId: 'getExecution',
  summary: 'An execution: status, steps, outputs or error',
  tags,
  params: ExecutionIdParams,
  headers: [IfNoneMatch],
  responses: {
    '200': json('The execution', Execution, { ETag: header('Weak validator of this representation') }),
    '304': { description: 'Not modified since the ETag in If-None-Match' },
    '404': problem('No such execution'),
  },
});

export const getJournal = defineRoute({
  method: 'get',
  path: '/executions/:id/journal',
  operationId: 'getJournal',
  summary: 'The journal, as NDJSON',
  tags,
  params: ExecutionIdParams,
  query: z.object({
    cursor: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('Entries after this seq (default 0)'),
    after: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('Alias of cursor'),
    limit: queryInt(1, 10_000).default(1000),
  }),
  responses: {
    '200': {
      description: 'One JournalEntry per line; `Link: rel="next"` when the page is full',
      headers: { Link: header('rel="next"') },
      content: { 'application/x-ndjson': z.string() },
    },
    '400': problem('Bad cursor or limit'),
    '404': problem('No such execution'),
  },
});

const reason = 'must be a string of at most 1000 characters';

export const cancelExecution = defineRoute({
  method: 'post',
  path: '/executions/:id/cancel',
  operationId: 'cancelExecution',
  summary: 'Cancel a running execution',
  tags,
  description:
    'Cancels gracefully: running steps get the grace period. An execution run by another process on the same ' +
    'store (or left running and not resumed yet) gets a durable cancel request, acted on by whichever engine runs it.',
  params: ExecutionIdParams,
  body: { schema: z.object({ reason: z.string({ error: reason }).max(1000, reason).optional() }) },
  responses: {
    '202': json(
      'Cancel requested. `status` is the current one (usually still `running` while steps get the grace ' +
        'period); `cancelRequest.delivery` says who acts on it: `in-process` (this server runs it and is ' +
        'stopping it) or `recorded` (recorded in the store for the process running it, or, if none is, ' +
        'applied when the execution is resumed, e.g. `orchestr8 resume <id>`)',
      CancelAccepted,
    ),
    '400': problem('Malformed body'),
    '404': problem('No such execution'),
    '409': problem('Already finished (EXECUTION_FINISHED)'),
    '413': shared('PayloadTooLarge'),
    '415': shared('UnsupportedMediaType'),
  },
});

export const executionContracts = [execute, listExecutions, getExecution, getJournal, cancelExecution];
