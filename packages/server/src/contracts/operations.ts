/** Operations on a finished (or abandoned) execution: retry in place, rerun from a step, resume. */
import { z } from 'zod';
import { anObject, ExecutionIdParams, executionStatus, IdempotencyKey } from './common.js';
import { component, defineRoute, json, problem } from './contract.js';

const tags = ['Operations'];

export const RetryAccepted = component(
  'RetryAccepted',
  z.object({
    executionId: z.string().describe('the same execution: a retry runs it again in place'),
    status: executionStatus(),
    retried: z
      .array(z.string())
      .describe(
        'the steps that run again (failed, cancelled, never run, and everything downstream of them), in document order',
      ),
  }),
);

export const RerunRequest = component(
  'RerunRequest',
  z.strictObject({
    fromStep: z
      .string({ error: 'must be the id of a step of the workflow' })
      .min(1, 'must be the id of a step of the workflow')
      .describe('the step to run again, with every step downstream of it'),
    inputs: anObject(
      "inputs that replace the original's (top-level keys); the others stay the original's",
    ).optional(),
    dryRun: z
      .boolean({ error: 'must be true or false' })
      .optional()
      .describe('only answer with the plan; start nothing'),
  }),
);

export const RerunPlan = component(
  'RerunPlan',
  z.object({
    rerun: z.array(z.string()).describe('the steps that run again, in document order'),
    reused: z
      .array(z.string())
      .describe('the steps whose outputs (or skips) are copied from the original, in document order'),
    changedInputs: z.array(z.string()).describe('top-level inputs whose value changed'),
    invalidated: z
      .array(z.object({ stepId: z.string(), inputs: z.array(z.string()) }))
      .describe('steps that run again because a template or condition of theirs reads a changed input'),
  }),
);

const reason = 'must be a string of at most 1000 characters';

export const retryExecution = defineRoute({
  method: 'post',
  path: '/executions/:id/retry',
  operationId: 'retryExecution',
  summary: 'Retry a failed or cancelled execution, in place',
  tags,
  description:
    'Runs the same execution again: its failed, cancelled and never-run steps and every step downstream of them ' +
    'start over with a fresh retry budget; completed steps keep their outputs. Journaled as `execution.retried`. ' +
    'With an `Idempotency-Key`, the same key and request answer the first retry again (`Idempotent-Replayed: true`).',
  params: ExecutionIdParams,
  headers: [IdempotencyKey],
  body: {
    schema: z.strictObject({ reason: z.string({ error: reason }).max(1000, reason).optional() }),
    notObject: 'the body must be a JSON object (or absent)',
  },
  responses: {
    '202': json('Retried: the execution is queued or running again', RetryAccepted),
    '400': problem('Malformed body or Idempotency-Key'),
    '404': problem('No such execution'),
    '409': problem(
      'The execution runs, waits or completed (EXECUTION_NOT_RETRYABLE; `executionStatus` says which)',
    ),
    '422': problem('The Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)'),
  },
});

export const resumeExecution = defineRoute({
  method: 'post',
  path: '/executions/:id/resume',
  operationId: 'resumeExecution',
  summary: 'Resume an execution a stopped process left running',
  tags,
  description:
    'Resumes it in this server, as `orchestr8 resume <id>` does: completed steps keep their outputs, a step that ' +
    'was running runs again with the same idempotency key. Asked again while it runs here, it answers the same ' +
    'execution with `resumed: false`. Only for executions whose process is gone: two processes running one ' +
    'execution run its steps twice.',
  params: ExecutionIdParams,
  // No body, or an empty object (some clients always send one).
  body: { schema: z.strictObject({}), notObject: 'resume takes no body' },
  responses: {
    '202': json(
      'Resumed (or already running here)',
      z.object({
        executionId: z.string(),
        status: executionStatus(),
        resumed: z.boolean().describe('false when this server was already running it'),
      }),
    ),
    '400': problem('A body was sent'),
    '404': problem('No such execution'),
    '409': problem('Already finished (EXECUTION_FINISHED), or waiting (CONFLICT)'),
  },
});

export const rerunExecution = defineRoute({
  method: 'post',
  path: '/executions/:id/rerun',
  operationId: 'rerunExecution',
  summary: 'Rerun a finished execution from a step, as a new execution',
  tags,
  description:
    'Starts a new execution of the same definition, linked to this one (`rerunOf`), that reuses the outputs of ' +
    'the steps not downstream of `fromStep` and runs the rest. Changed `inputs` also run again every step whose ' +
    'templates or conditions read them (and their downstream): the plan lists them in `invalidated`. ' +
    '`dryRun: true` only answers with the plan.',
  params: ExecutionIdParams,
  headers: [IdempotencyKey],
  body: {
    schema: RerunRequest,
    required: true,
    missing: 'a JSON body is required: {"fromStep": "<step id>"}',
    notObject: 'a JSON body is required: {"fromStep": "<step id>"}',
  },
  responses: {
    '200': json('The plan of a dry run', z.object({ plan: RerunPlan })),
    '202': json(
      'Started',
      z.object({
        executionId: z.string().describe('the new execution'),
        rerunOf: z.object({ executionId: z.string().optional(), fromStep: z.string().optional() }),
        plan: RerunPlan,
      }),
    ),
    '400': problem('Malformed body or Idempotency-Key'),
    '404': problem('No such execution'),
    '409': problem('The execution has not finished (EXECUTION_NOT_FINISHED)'),
    '422': problem('No such step, inputs that do not match the inputs schema, or a reused Idempotency-Key'),
  },
});

export const operationContracts = [retryExecution, resumeExecution, rerunExecution];
