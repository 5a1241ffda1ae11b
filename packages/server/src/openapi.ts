/**
 * The OpenAPI 3.1 description of the API, served at `/openapi.json`, generated from the route
 * contracts (contracts/*.ts) plus what every route shares (problems, security schemes). A test
 * validates it with an OpenAPI validator and checks that its paths and methods are exactly
 * the routes the server registers.
 */
import type { RouteContract } from './contracts/contract.js';
import { generatePaths } from './contracts/generate.js';
import { serverContracts } from './contracts/index.js';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const json = (description: string, schema: Json, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});
const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });

/** Problems every operation may answer with (an operation's own description of a status wins). */
const COMMON: Json = {
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '429': { $ref: '#/components/responses/RateLimited' },
  '500': { $ref: '#/components/responses/Internal' },
};

const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });

function op(summary: string, operationId: string, rest: Json): Json {
  const responses = { ...(rest.responses as Json) };
  for (const [status, response] of Object.entries(COMMON)) responses[status] ??= response;
  return { summary, operationId, ...rest, responses };
}

const executionStatus = {
  type: 'string',
  enum: ['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'],
};

const schemas: Json = {
  EventDelivery: {
    type: 'object',
    required: ['id', 'accepted', 'woken'],
    properties: {
      id: { type: 'string', description: 'The delivery id (given, or assigned)' },
      accepted: {
        type: 'boolean',
        description: 'False when this name and id were delivered before: nothing happened',
      },
      woken: { type: 'integer', description: 'Waits this event ended (or, for `all`, advanced)' },
      triggers: {
        type: 'array',
        description: 'With @orchestr8/triggers: the event triggers it matched',
        items: { type: 'object' },
      },
    },
  },
  ApprovalList: {
    type: 'object',
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['executionId', 'stepId', 'workflowId', 'title', 'createdAt'],
          properties: {
            executionId: { type: 'string' },
            stepId: { type: 'string' },
            workflowId: { type: 'string' },
            title: { type: 'string' },
            description: { type: 'string' },
            form: { type: 'object', description: 'The JSON Schema of the form' },
            approvers: { type: 'array', items: { type: 'string' } },
            dueAt: { type: 'string', format: 'date-time', description: 'When the wait times out' },
            createdAt: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
  },
  DecisionRequest: {
    type: 'object',
    properties: {
      by: { type: 'string', description: 'Who decides (checked against the approvers)' },
      data: { description: 'The form data (approve)' },
      comment: { type: 'string' },
    },
  },
  DecisionAccepted: {
    type: 'object',
    description: 'What the decision did; a repeat with the same Idempotency-Key gets this same answer.',
    required: ['executionId', 'stepId', 'decision', 'decidedAt'],
    properties: {
      executionId: { type: 'string' },
      stepId: { type: 'string' },
      decision: { type: 'string', enum: ['approved', 'rejected'] },
      by: { type: 'string' },
      decidedAt: { type: 'string', format: 'date-time' },
    },
  },
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details. `code` is stable and machine-readable; `detail` is for people.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: {
        type: 'string',
        examples: [
          'BAD_REQUEST',
          'INVALID_JSON',
          'VALIDATION',
          'NOT_FOUND',
          'METHOD_NOT_ALLOWED',
          'UNSUPPORTED_MEDIA_TYPE',
          'PAYLOAD_TOO_LARGE',
          'RATE_LIMITED',
          'UNAUTHORIZED',
          'HOST_NOT_ALLOWED',
          'ORIGIN_NOT_ALLOWED',
          'PRECONDITION_FAILED',
          'CONFLICT',
          'EXECUTION_FINISHED',
          'IDEMPOTENCY_KEY_INVALID',
          'IDEMPOTENCY_KEY_REUSED',
          'SHUTTING_DOWN',
          'NOT_READY',
          'STORE',
          'INTERNAL',
        ],
      },
      instance: { type: 'string' },
      errors: {
        type: 'array',
        items: ref('Diagnostic'),
        description: 'Every problem found (validation and request-shape errors).',
      },
      warnings: { type: 'array', items: ref('Diagnostic') },
    },
  },
  Diagnostic: {
    type: 'object',
    description:
      'One problem, as `orchestr8 validate` reports it. Request-shape problems have code `E_REQUEST`.',
    required: ['code', 'severity', 'message', 'pointer'],
    properties: {
      code: { type: 'string', examples: ['E_SCHEMA', 'E_UNKNOWN_STEP', 'E_INPUTS', 'E_REQUEST'] },
      severity: { type: 'string', enum: ['error', 'warning'] },
      message: { type: 'string' },
      pointer: { type: 'string', description: 'RFC 6901 JSON pointer to the offending node.' },
      line: { type: 'integer' },
      column: { type: 'integer' },
      hint: { type: 'string' },
    },
  },
  SerializedError: {
    type: 'object',
    required: ['name', 'code', 'message', 'retryable'],
    properties: {
      name: { type: 'string' },
      code: { type: 'string' },
      message: { type: 'string' },
      retryable: { type: 'boolean' },
      attempts: { type: 'integer' },
      retryAfterMs: { type: 'number' },
      details: {},
      cause: ref('SerializedError'),
    },
  },
  WorkflowDocument: {
    type: 'object',
    description: 'An orchestr8 workflow document (see the published workflow JSON Schema).',
    required: ['version', 'metadata', 'steps'],
    properties: {
      version: { type: 'string' },
      metadata: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      steps: { type: 'array', items: { type: 'object' } },
    },
  },
  ExecuteRequest: {
    type: 'object',
    description: 'Exactly one of `workflow` and `workflowId`.',
    additionalProperties: false,
    properties: {
      workflow: {
        description:
          'An inline document, as an object or as YAML/JSON text (text gives diagnostics with line:column).',
        oneOf: [ref('WorkflowDocument'), { type: 'string' }],
      },
      workflowId: {
        type: 'string',
        minLength: 1,
        description: 'A workflow registered with PUT /workflows/{id}.',
      },
      version: { type: 'string', description: 'With workflowId: the version to run (default: the newest).' },
      inputs: {
        type: 'object',
        description: "Checked against the workflow's inputs schema; its defaults are applied.",
      },
      options: {
        type: 'object',
        additionalProperties: false,
        properties: {
          correlationId: { type: 'string', maxLength: 255 },
          maxConcurrentSteps: { type: 'integer', minimum: 1, maximum: 10000 },
        },
      },
    },
  },
  StepState: {
    type: 'object',
    required: ['executionId', 'stepId', 'status', 'attempts'],
    properties: {
      executionId: { type: 'string' },
      stepId: { type: 'string' },
      status: {
        type: 'string',
        enum: ['pending', 'running', 'retrying', 'completed', 'failed', 'skipped', 'cancelled'],
      },
      attempts: { type: 'integer' },
      output: {},
      error: ref('SerializedError'),
      startedAt: { type: 'integer' },
      finishedAt: { type: 'integer' },
      statusReason: { type: 'string', description: 'Why the step was skipped or cancelled.' },
      skipReason: { type: 'string', description: 'Skipped steps only: the same as statusReason.' },
      aliasFor: { type: 'string' },
      idempotencyKey: { type: 'string' },
    },
  },
  Execution: {
    type: 'object',
    description: 'An execution and the state of its steps; times are epoch milliseconds.',
    required: ['executionId', 'workflowId', 'workflowVersion', 'status', 'steps'],
    properties: {
      executionId: { type: 'string' },
      workflowId: { type: 'string' },
      workflowVersion: { type: 'string' },
      status: executionStatus,
      outputs: {},
      error: ref('SerializedError'),
      statusReason: { type: 'string' },
      steps: { type: 'object', additionalProperties: ref('StepState') },
      startedAt: { type: 'integer' },
      finishedAt: { type: 'integer' },
      durationMs: { type: 'number' },
      journalDropped: { type: 'integer' },
      inputs: {
        description: 'GET /executions/{id} only: the inputs it ran with (defaults applied, redacted)',
      },
      createdAt: { type: 'integer', description: 'GET /executions/{id} only' },
      correlationId: { type: 'string', description: 'GET /executions/{id} only: what started it' },
      trigger: { type: 'string', description: 'GET /executions/{id} only: the trigger that started it' },
      parent: {
        type: 'object',
        description:
          'GET /executions/{id} only: the execution (and step) that started this one as a sub-workflow',
        properties: { executionId: { type: 'string' }, stepId: { type: 'string' } },
      },
      children: {
        type: 'array',
        description:
          'GET /executions/{id} only: the sub-workflow executions it started, newest first (at most 100)',
        items: {
          type: 'object',
          properties: {
            executionId: { type: 'string' },
            stepId: { type: 'string' },
            workflowId: { type: 'string' },
            status: executionStatus,
            createdAt: { type: 'integer' },
          },
        },
      },
      rerunOf: {
        type: 'object',
        description: 'GET /executions/{id} only: the execution this one reruns, and from which step',
        properties: { executionId: { type: 'string' }, fromStep: { type: 'string' } },
      },
      reruns: {
        type: 'array',
        description: 'GET /executions/{id} only: the reruns of this execution, newest first (at most 100)',
        items: {
          type: 'object',
          properties: {
            executionId: { type: 'string' },
            fromStep: { type: 'string' },
            status: executionStatus,
            createdAt: { type: 'integer' },
          },
        },
      },
    },
  },
  RetryAccepted: {
    type: 'object',
    required: ['executionId', 'status', 'retried'],
    properties: {
      executionId: { type: 'string', description: 'the same execution: a retry runs it again in place' },
      status: executionStatus,
      retried: {
        type: 'array',
        items: { type: 'string' },
        description:
          'the steps that run again (failed, cancelled, never run, and everything downstream of them), in document order',
      },
    },
  },
  RerunRequest: {
    type: 'object',
    required: ['fromStep'],
    additionalProperties: false,
    properties: {
      fromStep: { type: 'string', description: 'the step to run again, with every step downstream of it' },
      inputs: {
        type: 'object',
        description: "inputs that replace the original's (top-level keys); the others stay the original's",
      },
      dryRun: { type: 'boolean', description: 'only answer with the plan; start nothing' },
    },
  },
  RerunPlan: {
    type: 'object',
    required: ['rerun', 'reused', 'changedInputs', 'invalidated'],
    properties: {
      rerun: {
        type: 'array',
        items: { type: 'string' },
        description: 'the steps that run again, in document order',
      },
      reused: {
        type: 'array',
        items: { type: 'string' },
        description: 'the steps whose outputs (or skips) are copied from the original, in document order',
      },
      changedInputs: {
        type: 'array',
        items: { type: 'string' },
        description: 'top-level inputs whose value changed',
      },
      invalidated: {
        type: 'array',
        description: 'steps that run again because a template or condition of theirs reads a changed input',
        items: {
          type: 'object',
          required: ['stepId', 'inputs'],
          properties: { stepId: { type: 'string' }, inputs: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
  },
  CancelAccepted: {
    description: 'The execution as it is now, with the cancel request just taken.',
    allOf: [
      ref('Execution'),
      {
        type: 'object',
        required: ['cancelRequested', 'cancelRequest'],
        properties: {
          cancelRequested: { type: 'boolean', const: true },
          cancelRequest: {
            type: 'object',
            required: ['reason', 'requestedAt', 'delivery'],
            properties: {
              reason: { type: 'string' },
              requestedAt: { type: 'integer', description: 'epoch milliseconds' },
              delivery: {
                type: 'string',
                enum: ['in-process', 'recorded'],
                description:
                  '`in-process`: this server runs the execution and is stopping it. `recorded`: another process ' +
                  'runs it and stops it within about a second, or none does and it is cancelled when resumed.',
              },
            },
          },
        },
      },
    ],
  },
  ExecutionSummary: {
    type: 'object',
    required: ['executionId', 'workflowId', 'workflowVersion', 'status', 'createdAt', 'updatedAt'],
    properties: {
      executionId: { type: 'string' },
      workflowId: { type: 'string' },
      workflowVersion: { type: 'string' },
      status: executionStatus,
      statusReason: { type: 'string' },
      correlationId: { type: 'string' },
      createdAt: { type: 'integer' },
      updatedAt: { type: 'integer' },
      startedAt: { type: 'integer' },
      finishedAt: { type: 'integer' },
      error: ref('SerializedError'),
    },
  },
  ExecutionPage: {
    type: 'object',
    required: ['items'],
    properties: {
      items: { type: 'array', items: ref('ExecutionSummary') },
      nextCursor: {
        type: 'string',
        description: 'Pass as `cursor` for the next page; absent on the last page.',
      },
    },
  },
  JournalEntry: {
    type: 'object',
    description:
      'One line of the NDJSON journal; also the `data` of an event-stream event (with executionId and workflowId).',
    required: ['seq', 'ts', 'elapsedMs', 'type'],
    properties: {
      seq: { type: 'integer' },
      ts: { type: 'integer' },
      elapsedMs: { type: 'number' },
      type: { type: 'string', examples: ['execution.started', 'step.completed', 'execution.completed'] },
      stepId: { type: 'string' },
      attempt: { type: 'integer' },
      data: {},
      executionId: { type: 'string' },
      workflowId: { type: 'string' },
    },
  },
  WorkflowVersion: {
    type: 'object',
    required: ['id', 'version', 'hash', 'createdAt'],
    properties: {
      id: { type: 'string' },
      version: { type: 'string' },
      hash: { type: 'string', description: 'sha256 of the canonical document; the ETag of the resource.' },
      createdAt: { type: 'integer' },
      latestVersion: { type: 'string' },
    },
  },
  WorkflowDefinition: {
    allOf: [
      ref('WorkflowVersion'),
      { type: 'object', required: ['document'], properties: { document: ref('WorkflowDocument') } },
    ],
  },
  WorkflowList: {
    type: 'object',
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'versions'],
          properties: {
            id: { type: 'string' },
            latestVersion: { type: 'string' },
            versions: { type: 'array', items: ref('WorkflowVersion') },
          },
        },
      },
    },
  },
};

const sse = (description: string) => ({
  description,
  content: {
    'text/event-stream': {
      schema: {
        type: 'string',
        description: 'SSE frames: `id`, `event` (the event type) and `data` (a JournalEntry as JSON).',
      },
    },
  },
});

/**
 * Routes the server serves only when its host mounts `@orchestr8/triggers`' router
 * (`createServer({ routers })`; `orchestr8 serve` always does). Each operation says so with
 * `x-orchestr8-router: triggers`, so the server's own route test can tell them apart.
 */
const TRIGGERS_ROUTER = { 'x-orchestr8-router': 'triggers' };
const triggerParams = [
  { name: 'workflow', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'name', in: 'path', required: true, description: 'The trigger name', schema: { type: 'string' } },
];
const outcome: Json = {
  type: 'object',
  description:
    'What a firing led to: `started` (an execution; `created: false` when its idempotency key matched an earlier one), ' +
    '`queued` (per-key concurrency limit reached), `debounced`, `batched`, `dropped` (`reason`: rate_limited, ' +
    'queue_full, skipped by the overlap policy) or `failed` (inputs or keys could not be rendered, or the start failed).',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['started', 'queued', 'debounced', 'batched', 'dropped', 'failed'] },
    executionId: { type: 'string' },
    created: { type: 'boolean' },
    reason: { type: 'string', enum: ['rate_limited', 'queue_full', 'skipped'] },
    error: { type: 'string' },
  },
};
const triggerOp = (
  summary: string,
  operationId: string,
  description: string,
  responses: Json,
  extra: Json = {},
) =>
  op(summary, operationId, {
    ...TRIGGERS_ROUTER,
    description,
    parameters: triggerParams,
    ...extra,
    responses: {
      '404': problem('No active trigger of that name on that workflow (NOT_FOUND)'),
      ...responses,
    },
  });
const emitEvent = op('Send an event: wakes the waits it matches, and starts event triggers', 'emitEvent', {
  description:
    'Delivers the event to every waiting step whose `wait` listens for its `name` and whose `match` holds, and keeps it ' +
    'in the inbox for the look-back window (default 5 minutes), so a wait that registers just after it still takes it. ' +
    'The `id` (else the Idempotency-Key header, else one the server assigns) makes delivery idempotent: the same name and ' +
    'id again is `accepted: false` and wakes nothing. When the host mounts @orchestr8/triggers, the event also starts each ' +
    'active `event` trigger whose `name` matches and whose `condition` holds (`triggers` in the response); the `payload` ' +
    '(or `data`) is what the trigger sees as its data.',
  parameters: [param('IdempotencyKey')],
  requestBody: {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1 },
            id: { type: 'string', minLength: 1 },
            payload: { description: 'What waits read as event.payload' },
            data: { description: 'The payload under the name event triggers use (when payload is absent)' },
          },
        },
      },
    },
  },
  responses: {
    '202': json('What the event did', ref('EventDelivery')),
    '400': problem('The body is not a JSON object, or has no `name`'),
    '413': { $ref: '#/components/responses/PayloadTooLarge' },
  },
});
/**
 * Routes of `@orchestr8/mcp`, which `orchestr8 serve` mounts (`/ask` only with `--ask`),
 * marked `x-orchestr8-router: mcp`.
 */
const MCP_ROUTER = { 'x-orchestr8-router': 'mcp' };
const mcpPaths: Json = {
  '/mcp': {
    post: op('MCP over streamable HTTP (stateless)', 'mcp', {
      ...MCP_ROUTER,
      description:
        'The Model Context Protocol (JSON-RPC 2.0): tools for the exposed workflows (`orchestr8 serve --mcp-expose`) and ' +
        'generic tools to start, follow, list and cancel executions, read journals, validate documents and decide ' +
        'approvals; resources for workflow documents and journals. Stateless: no session is kept between requests. ' +
        'Send `Accept: application/json, text/event-stream`.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', description: 'A JSON-RPC request or notification' },
          },
        },
      },
      responses: {
        '200': json('The JSON-RPC response', { type: 'object' }),
        '202': { description: 'A notification was accepted' },
      },
    }),
  },
  '/ask': {
    post: op('Plan a workflow from a sentence', 'ask', {
      ...MCP_ROUTER,
      description:
        "Served with `orchestr8 serve --ask`. Plans a workflow document from `request` with the server's LLM provider and " +
        'agents, validates it (validation errors go back to the LLM for up to 2 repairs) and checks it against the ' +
        "operator's capabilities; with `run: true`, starts it with `inputs`.",
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['request'],
              additionalProperties: false,
              properties: {
                request: { type: 'string', minLength: 1, maxLength: 4000 },
                run: { type: 'boolean', default: false },
                inputs: { type: 'object' },
              },
            },
          },
        },
      },
      responses: {
        '200': json('The plan', {
          type: 'object',
          required: ['plan', 'repairs', 'text'],
          properties: {
            plan: { type: 'object', description: 'The workflow document' },
            repairs: { type: 'integer' },
            text: { type: 'string', description: 'Its steps and graph, as text' },
          },
        }),
        '202': json('The plan, and the execution it started (`run: true`)', {
          type: 'object',
          properties: {
            plan: { type: 'object' },
            repairs: { type: 'integer' },
            text: { type: 'string' },
            execution: {
              type: 'object',
              properties: {
                executionId: { type: 'string' },
                status: { type: 'string' },
                location: { type: 'string' },
              },
            },
          },
        }),
        '403': problem('The plan asks for more than the operator grants (CAPABILITY_DENIED, with problems)'),
        '422': problem('A bad body, or no valid plan after the repairs (VALIDATION, with errors)'),
        '502': problem('The LLM could not be asked (no provider or key, or its endpoint failed)'),
      },
    }),
  },
};

const waitPaths: Json = {
  '/executions/{id}/signals/{name}': {
    post: op('Signal one execution', 'signalExecution', {
      description:
        'An event for this execution only: its steps waiting for an event of this name (and whose match holds) take it. ' +
        'Kept in the inbox for the look-back window like any event. The same `id` (or Idempotency-Key) again does ' +
        'nothing and gets the first answer (remembered as long as execute keys); with another payload it is 422 ' +
        'IDEMPOTENCY_KEY_REUSED.',
      parameters: [
        param('ExecutionId'),
        { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
        param('IdempotencyKey'),
      ],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { id: { type: 'string', minLength: 1 }, payload: {} } },
          },
        },
      },
      responses: {
        '202': json('What the signal did (a repeat of an id: the first answer)', ref('EventDelivery')),
        '400': problem('Malformed body'),
        '404': problem('No such execution'),
        '422': problem('The id or Idempotency-Key was used for a different signal (IDEMPOTENCY_KEY_REUSED)'),
      },
    }),
  },
  '/approvals': {
    get: op('Pending approvals', 'listApprovals', {
      description:
        'Steps waiting for a decision (`wait.approval`), oldest first, with their rendered title and form schema.',
      responses: { '200': json('Pending approvals', ref('ApprovalList')) },
    }),
  },
  '/executions/{id}/steps/{step}/approve': {
    post: op('Approve an approval step', 'approveStep', {
      description:
        "The form data is validated against the step's form schema: 422 naming the field when it does not satisfy it. " +
        'The step completes with `{approved: true, by, data}` and the execution continues. A step already decided is 409. ' +
        'With an Idempotency-Key, a repeat gets the first answer (also once the step has moved on); the key used for ' +
        'another decision is 422 IDEMPOTENCY_KEY_REUSED.',
      parameters: [
        param('ExecutionId'),
        { name: 'step', in: 'path', required: true, schema: { type: 'string' } },
        param('IdempotencyKey'),
      ],
      requestBody: { required: false, content: { 'application/json': { schema: ref('DecisionRequest') } } },
      responses: {
        '202': json('Decided', ref('DecisionAccepted')),
        '400': problem('Malformed body'),
        '403': problem('`by` is not among the step approvers (CAPABILITY_DENIED)'),
        '404': problem('The step is not waiting for a decision'),
        '409': problem('Already decided'),
        '422': problem(
          'The form data does not satisfy the form (VALIDATION; `errors` points at the field), or the Idempotency-Key ' +
            'was used for another decision (IDEMPOTENCY_KEY_REUSED)',
        ),
      },
    }),
  },
  '/executions/{id}/steps/{step}/reject': {
    post: op('Reject an approval step', 'rejectStep', {
      description:
        'The step fails with code REJECTED (its onError decides what follows: `continue` lets dependents branch on ' +
        '`steps.<id>.error.code`). A step already decided is 409. With an Idempotency-Key, a repeat gets the first ' +
        'answer; the key used for another decision is 422 IDEMPOTENCY_KEY_REUSED.',
      parameters: [
        param('ExecutionId'),
        { name: 'step', in: 'path', required: true, schema: { type: 'string' } },
        param('IdempotencyKey'),
      ],
      requestBody: { required: false, content: { 'application/json': { schema: ref('DecisionRequest') } } },
      responses: {
        '202': json('Decided', ref('DecisionAccepted')),
        '400': problem('Malformed body'),
        '403': problem('`by` is not among the step approvers (CAPABILITY_DENIED)'),
        '404': problem('The step is not waiting for a decision'),
        '409': problem('Already decided'),
        '422': problem('The Idempotency-Key was used for another decision (IDEMPOTENCY_KEY_REUSED)'),
      },
    }),
  },
};
const triggerPaths: Json = {
  '/hooks/{workflow}/{name}': {
    post: {
      summary: 'Deliver a webhook: starts the workflow with the request as input',
      operationId: 'deliverWebhook',
      ...TRIGGERS_ROUTER,
      description:
        'Served before API-key auth and rate limiting: a signed webhook (`signature` in the trigger) authenticates by ' +
        'its HMAC-SHA256 signature of the raw body, hex, optionally `sha256=`-prefixed, in the configured header ' +
        '(default `X-Hub-Signature-256`, as GitHub sends); an unsigned one needs an API key when the server has keys. ' +
        'The body (JSON when the content type says so, else text), headers and query are `${trigger.body}`, ' +
        '`${trigger.headers}` and `${trigger.query}`; without an input mapping the body is the inputs. A delivery id ' +
        '(the `dedupeHeader`, else `Idempotency-Key`) is remembered for 7 days: a replay answers 200 and starts nothing. ' +
        'Executions carry the correlation id `trigger:<name>#<delivery id>` (or `@<arrival time>` without one).',
      security: [{}, { bearer: [] }, { apiKey: [] }],
      parameters: triggerParams,
      requestBody: { required: false, content: { '*/*': { schema: {} } } },
      responses: {
        '200': json('A delivery id seen before: nothing started', {
          type: 'object',
          properties: { duplicate: { const: true }, deliveryId: { type: 'string' } },
        }),
        '202': json('Accepted: the outcome of the firing', {
          allOf: [outcome, { type: 'object', properties: { deliveryId: { type: 'string' } } }],
        }),
        '401': problem(
          'SIGNATURE_INVALID: the signature does not match the body; or UNAUTHORIZED: an unsigned webhook without an API key',
        ),
        '404': problem('No webhook trigger of that name on that workflow (NOT_FOUND)'),
        '413': { $ref: '#/components/responses/PayloadTooLarge' },
        '422': problem('The firing failed (its inputs could not be rendered, or the start failed)'),
        '429': problem('The firing was dropped by its rate limit or a full queue'),
        '503': problem(
          'TRIGGER_UNAVAILABLE: the trigger is paused, or its signing secret is not granted (--allow-env) or not set',
        ),
        '500': { $ref: '#/components/responses/Internal' },
      },
    },
  },
  '/triggers': {
    get: op('The active triggers', 'listTriggers', {
      ...TRIGGERS_ROUTER,
      description:
        'The triggers of the newest registered version of each workflow: kind, schedule (cron or interval, ' +
        'timezone, overlap and catch-up policies), next and last fire time (epoch ms), paused, and in-process ' +
        'flow-control counts. `orchestr8 triggers list` prints it.',
      responses: {
        '200': json('The triggers', {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                required: ['workflowId', 'workflowVersion', 'name', 'kind', 'paused'],
                properties: {
                  workflowId: { type: 'string' },
                  workflowVersion: { type: 'string' },
                  name: { type: 'string' },
                  kind: { type: 'string', enum: ['schedule', 'webhook', 'event'] },
                  paused: { type: 'boolean' },
                  schedule: {
                    type: 'object',
                    properties: {
                      cron: { type: 'string' },
                      everyMs: { type: 'integer' },
                      timezone: { type: 'string' },
                      overlap: { type: 'string', enum: ['skip', 'bufferOne', 'allowAll', 'cancelRunning'] },
                      catchUp: { type: 'string', enum: ['none', 'last', 'all'] },
                    },
                  },
                  nextFireAt: { type: 'integer', description: 'Epoch ms; absent when paused' },
                  lastFireAt: { type: 'integer', description: 'Epoch ms of the newest occurrence handled' },
                  event: { type: 'string' },
                  signed: { type: 'boolean' },
                  running: { type: 'integer' },
                  queued: { type: 'integer' },
                  dropped: { type: 'integer' },
                },
              },
            },
          },
        }),
      },
    }),
  },
  '/triggers/{workflow}/{name}/pause': {
    post: triggerOp(
      'Pause a trigger',
      'pauseTrigger',
      'Paused schedules skip their occurrences, paused webhooks answer 503 and paused event triggers ignore events. ' +
        'Stored with the trigger state, so it outlives a restart.',
      { '200': json('Paused', { type: 'object', properties: { ok: { const: true } } }) },
    ),
  },
  '/triggers/{workflow}/{name}/resume': {
    post: triggerOp(
      'Resume a trigger',
      'resumeTrigger',
      'Occurrences that fell due while the trigger was paused are not caught up.',
      { '200': json('Resumed', { type: 'object', properties: { ok: { const: true } } }) },
    ),
  },
  '/triggers/{workflow}/{name}/run': {
    post: triggerOp(
      'Fire a trigger now',
      'runTrigger',
      "As if it had fired now: the trigger's flow control applies; a schedule's overlap policy does not. The " +
        'execution carries the correlation id `trigger:<name>@<now>`.',
      { '200': json('The outcome of the firing', outcome) },
    ),
  },
  '/triggers/{workflow}/{name}/backfill': {
    post: triggerOp(
      'Fire the occurrences of a schedule in a range',
      'backfillTrigger',
      'Fires each occurrence of the schedule in [from, to], oldest first, with its overlap policy applied. An occurrence ' +
        'that already ran (same idempotency key `trigger:<workflow>:<name>:<epoch ms>`) is not started again.',
      {
        '200': json('Each occurrence with its outcome', {
          type: 'object',
          required: ['occurrences'],
          properties: {
            occurrences: {
              type: 'array',
              items: {
                allOf: [
                  outcome,
                  { type: 'object', properties: { time: { type: 'string', format: 'date-time' } } },
                ],
              },
            },
          },
        }),
        '422': problem('Not a schedule, or `from`/`to` missing, not ISO-8601, or from > to (VALIDATION)'),
      },
      {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['from', 'to'],
                properties: {
                  from: { type: 'string', format: 'date-time' },
                  to: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
      },
    ),
  },
};

const paths: Json = {
  '/healthz': {
    get: {
      summary: 'Liveness: the process is up',
      operationId: 'healthz',
      security: [],
      responses: {
        '200': json('Alive', { type: 'object', properties: { status: { const: 'ok' } } }),
        '403': { $ref: '#/components/responses/Forbidden' },
      },
    },
  },
  '/readyz': {
    get: {
      summary: 'Readiness: the store is reachable and migrated, and the server is not shutting down',
      operationId: 'readyz',
      security: [],
      responses: {
        '200': json('Ready', {
          type: 'object',
          properties: { status: { const: 'ready' }, store: { type: 'string' } },
        }),
        '403': { $ref: '#/components/responses/Forbidden' },
        '503': problem('Not ready (code NOT_READY or SHUTTING_DOWN)'),
      },
    },
  },
  '/openapi.json': {
    get: {
      summary: 'This document',
      operationId: 'openapi',
      security: [],
      responses: {
        '200': json('The OpenAPI 3.1 document', { type: 'object' }),
        '403': { $ref: '#/components/responses/Forbidden' },
      },
    },
  },
  '/metrics': {
    get: op('Prometheus metrics', 'metrics', {
      description:
        'The Prometheus text exposition: executions and steps by status, step and execution durations, retries, ' +
        'circuit states, event-bus drops, in-flight executions and steps, store write latency. Enabled by the host ' +
        '(`orchestr8 serve` always enables it); 404 otherwise. Needs an API key when keys are configured.',
      responses: {
        '200': {
          description: 'Metrics in the Prometheus text format',
          content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
        },
        '404': problem('Metrics are not enabled on this server'),
      },
    }),
  },
  '/workers': {
    get: op('Live workers', 'listWorkers', {
      description:
        'Workers (`orchestr8 worker`) with their heartbeats and the steps they hold, and the depth of each queue. ' +
        'Only with a PostgreSQL store; 404 otherwise. Needs an API key when keys are configured.',
      responses: {
        '200': json('Workers and queues', {
          type: 'object',
          required: ['workers', 'queues'],
          properties: {
            workers: { type: 'array', items: { type: 'object', additionalProperties: true } },
            queues: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  queue: { type: 'string' },
                  ready: { type: 'integer' },
                  leased: { type: 'integer' },
                },
              },
            },
          },
        }),
        '404': problem('Workers exist only with a PostgreSQL store'),
      },
    }),
  },
  '/workflows/execute': {
    post: op('Start an execution', 'executeWorkflow', {
      description:
        'Validates the document (exactly as `orchestr8 validate` does) and the inputs, then starts an execution. ' +
        'Asynchronous by default (202). With `Prefer: wait=<seconds>` or `?wait=<seconds>` (at most the server maximum, 60 s by default), ' +
        'waits for the result: 200 when it finished in time, else 202. With an `Idempotency-Key`, the same key and the same request ' +
        'return the same execution (`Idempotent-Replayed: true`), for as long as the key lives (24 h by default), across restarts; ' +
        'the same key with a different request is 422 IDEMPOTENCY_KEY_REUSED.',
      parameters: [param('IdempotencyKey'), param('Prefer'), param('Wait'), param('Traceparent')],
      requestBody: { required: true, content: { 'application/json': { schema: ref('ExecuteRequest') } } },
      responses: {
        '200': json('Finished within the wait', ref('Execution'), {
          Location: { $ref: '#/components/headers/Location' },
          'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' },
        }),
        '202': json('Accepted: the execution runs; follow Location', ref('Execution'), {
          Location: { $ref: '#/components/headers/Location' },
          'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' },
        }),
        '400': problem(
          'Malformed request: INVALID_JSON, BAD_REQUEST (with `errors`), IDEMPOTENCY_KEY_INVALID',
        ),
        '404': problem('The workflowId (or version) is not registered'),
        '413': { $ref: '#/components/responses/PayloadTooLarge' },
        '415': { $ref: '#/components/responses/UnsupportedMediaType' },
        '422': problem('VALIDATION (document or inputs, with `errors`) or IDEMPOTENCY_KEY_REUSED'),
        '429': problem(
          "RATE_LIMITED: over the document's policies.flow (`reason`: rate_limited or queue_full; Retry-After), or the server's rate limit",
        ),
      },
    }),
  },
  '/executions': {
    get: op('List executions, newest first', 'listExecutions', {
      parameters: [
        {
          name: 'status',
          in: 'query',
          description: 'Comma-separated or repeated statuses',
          schema: { type: 'string' },
        },
        { name: 'workflowId', in: 'query', schema: { type: 'string' } },
        { name: 'workflow', in: 'query', description: 'Alias of workflowId', schema: { type: 'string' } },
        {
          name: 'trigger',
          in: 'query',
          description:
            'Only executions this trigger started (correlation id `trigger:<name>@<fire time>` or `trigger:<name>#<id>`)',
          schema: { type: 'string' },
        },
        {
          name: 'correlationId',
          in: 'query',
          description: 'Only executions whose correlationId starts with this (exact prefix, no wildcards)',
          schema: { type: 'string' },
        },
        {
          name: 'since',
          in: 'query',
          description: 'Only executions created at or after this time (epoch milliseconds or ISO-8601)',
          schema: { type: 'string' },
        },
        {
          name: 'until',
          in: 'query',
          description: 'Only executions created before this time (epoch milliseconds or ISO-8601)',
          schema: { type: 'string' },
        },
        {
          name: 'idPrefix',
          in: 'query',
          description: 'Only executions whose id starts with this (exact prefix, no wildcards)',
          schema: { type: 'string' },
        },
        {
          name: 'parentExecutionId',
          in: 'query',
          description: 'Only the sub-workflow executions this execution started',
          schema: { type: 'string' },
        },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
        {
          name: 'cursor',
          in: 'query',
          description: 'nextCursor of the previous page',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': json('A page', ref('ExecutionPage'), { Link: header('rel="next" when there are more') }),
        '400': problem('Bad status, time, limit or cursor'),
      },
    }),
  },
  '/executions/{id}': {
    get: op('An execution: status, steps, outputs or error', 'getExecution', {
      parameters: [param('ExecutionId'), param('IfNoneMatch')],
      responses: {
        '200': json('The execution', ref('Execution'), {
          ETag: header('Weak validator of this representation'),
        }),
        '304': { description: 'Not modified since the ETag in If-None-Match' },
        '404': problem('No such execution'),
      },
    }),
  },
  '/executions/{id}/journal': {
    get: op('The journal, as NDJSON', 'getJournal', {
      parameters: [
        param('ExecutionId'),
        {
          name: 'cursor',
          in: 'query',
          description: 'Entries after this seq (default 0)',
          schema: { type: 'integer', minimum: 0 },
        },
        {
          name: 'after',
          in: 'query',
          description: 'Alias of cursor',
          schema: { type: 'integer', minimum: 0 },
        },
        {
          name: 'limit',
          in: 'query',
          schema: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
        },
      ],
      responses: {
        '200': {
          description: 'One JournalEntry per line; `Link: rel="next"` when the page is full',
          headers: { Link: header('rel="next"') },
          content: { 'application/x-ndjson': { schema: { type: 'string' } } },
        },
        '400': problem('Bad cursor or limit'),
        '404': problem('No such execution'),
      },
    }),
  },
  '/executions/{id}/cancel': {
    post: op('Cancel a running execution', 'cancelExecution', {
      description:
        'Cancels gracefully: running steps get the grace period. An execution run by another process on the same ' +
        'store (or left running and not resumed yet) gets a durable cancel request, acted on by whichever engine runs it.',
      parameters: [param('ExecutionId')],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { reason: { type: 'string', maxLength: 1000 } } },
          },
        },
      },
      responses: {
        '202': json(
          'Cancel requested. `status` is the current one (usually still `running` while steps get the grace ' +
            'period); `cancelRequest.delivery` says who acts on it: `in-process` (this server runs it and is ' +
            'stopping it) or `recorded` (recorded in the store for the process running it, or, if none is, ' +
            'applied when the execution is resumed, e.g. `orchestr8 resume <id>`)',
          ref('CancelAccepted'),
        ),
        '400': problem('Malformed body'),
        '404': problem('No such execution'),
        '409': problem('Already finished (EXECUTION_FINISHED)'),
        '413': { $ref: '#/components/responses/PayloadTooLarge' },
        '415': { $ref: '#/components/responses/UnsupportedMediaType' },
      },
    }),
  },
  '/executions/{id}/retry': {
    post: op('Retry a failed or cancelled execution, in place', 'retryExecution', {
      description:
        'Runs the same execution again: its failed, cancelled and never-run steps and every step downstream of them ' +
        'start over with a fresh retry budget; completed steps keep their outputs. Journaled as `execution.retried`. ' +
        'With an `Idempotency-Key`, the same key and request answer the first retry again (`Idempotent-Replayed: true`).',
      parameters: [param('ExecutionId'), param('IdempotencyKey')],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              properties: { reason: { type: 'string', maxLength: 1000 } },
            },
          },
        },
      },
      responses: {
        '202': json('Retried: the execution is queued or running again', ref('RetryAccepted')),
        '400': problem('Malformed body or Idempotency-Key'),
        '404': problem('No such execution'),
        '409': problem(
          'The execution runs, waits or completed (EXECUTION_NOT_RETRYABLE; `executionStatus` says which)',
        ),
        '422': problem('The Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)'),
      },
    }),
  },
  '/executions/{id}/resume': {
    post: op('Resume an execution a stopped process left running', 'resumeExecution', {
      description:
        'Resumes it in this server, as `orchestr8 resume <id>` does: completed steps keep their outputs, a step that ' +
        'was running runs again with the same idempotency key. Asked again while it runs here, it answers the same ' +
        'execution with `resumed: false`. Only for executions whose process is gone: two processes running one ' +
        'execution run its steps twice.',
      parameters: [param('ExecutionId')],
      responses: {
        '202': json('Resumed (or already running here)', {
          type: 'object',
          required: ['executionId', 'status', 'resumed'],
          properties: {
            executionId: { type: 'string' },
            status: executionStatus,
            resumed: { type: 'boolean', description: 'false when this server was already running it' },
          },
        }),
        '400': problem('A body was sent'),
        '404': problem('No such execution'),
        '409': problem('Already finished (EXECUTION_FINISHED), or waiting (CONFLICT)'),
      },
    }),
  },
  '/executions/{id}/rerun': {
    post: op('Rerun a finished execution from a step, as a new execution', 'rerunExecution', {
      description:
        'Starts a new execution of the same definition, linked to this one (`rerunOf`), that reuses the outputs of ' +
        'the steps not downstream of `fromStep` and runs the rest. Changed `inputs` also run again every step whose ' +
        'templates or conditions read them (and their downstream): the plan lists them in `invalidated`. ' +
        '`dryRun: true` only answers with the plan.',
      parameters: [param('ExecutionId'), param('IdempotencyKey')],
      requestBody: { required: true, content: { 'application/json': { schema: ref('RerunRequest') } } },
      responses: {
        '200': json('The plan of a dry run', {
          type: 'object',
          required: ['plan'],
          properties: { plan: ref('RerunPlan') },
        }),
        '202': json('Started', {
          type: 'object',
          required: ['executionId', 'rerunOf', 'plan'],
          properties: {
            executionId: { type: 'string', description: 'the new execution' },
            rerunOf: {
              type: 'object',
              properties: { executionId: { type: 'string' }, fromStep: { type: 'string' } },
            },
            plan: ref('RerunPlan'),
          },
        }),
        '400': problem('Malformed body or Idempotency-Key'),
        '404': problem('No such execution'),
        '409': problem('The execution has not finished (EXECUTION_NOT_FINISHED)'),
        '422': problem(
          'No such step, inputs that do not match the inputs schema, or a reused Idempotency-Key',
        ),
      },
    }),
  },
  '/executions/{id}/events': {
    get: op('Server-Sent Events of one execution', 'executionEvents', {
      description:
        'Replays the journal after Last-Event-ID (a journal seq), then streams live events; each event `id` is its seq, so a reconnect ' +
        'with Last-Event-ID loses and repeats nothing. Ends after the terminal event. Keep-alive comments every 15 s.',
      parameters: [
        param('ExecutionId'),
        param('LastEventId'),
        { name: 'lastEventId', in: 'query', schema: { type: 'string' } },
      ],
      responses: {
        '200': sse('The event stream'),
        '400': problem('Last-Event-ID is not a sequence number'),
        '404': problem('No such execution'),
      },
    }),
  },
  '/events': {
    get: op('Server-Sent Events of every execution', 'allEvents', {
      description:
        'Live events of all executions. Event ids are `<bootId>-<n>`, a counter local to the server process; a reconnect with ' +
        'Last-Event-ID replays what the server still buffers (the last 10,000 events by default). When it cannot (another process, ' +
        'or too old), an event `gap` (without id) says so first. Never ends on its own.',
      parameters: [
        param('LastEventId'),
        { name: 'lastEventId', in: 'query', schema: { type: 'string' } },
        { name: 'workflowId', in: 'query', schema: { type: 'string' } },
      ],
      responses: { '200': sse('The event stream') },
    }),
    post: emitEvent,
  },
  '/workflows': {
    get: op('Registered workflows and their versions', 'listWorkflows', {
      responses: { '200': json('Workflows', ref('WorkflowList')) },
    }),
  },
  '/workflows/validate': {
    post: op('Validate a workflow document without storing or running it', 'validateWorkflow', {
      description:
        'The diagnostics `orchestr8 validate` gives (codes, JSON pointers, and 1-based line and column when `document` ' +
        "is YAML or JSON text), the agents checked against this server's registry, plus a CAPABILITY_DENIED diagnostic " +
        'for each thing the document asks beyond what this host grants. An invalid document is a 200 with `valid: false`.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['document'],
              additionalProperties: false,
              properties: {
                document: {
                  description:
                    'The document: YAML or JSON text (diagnostics then carry line and column), or an object',
                  oneOf: [{ type: 'string' }, { type: 'object' }],
                },
              },
            },
          },
        },
      },
      responses: {
        '200': json('The verdict', {
          type: 'object',
          required: ['valid', 'diagnostics'],
          properties: {
            valid: { type: 'boolean' },
            diagnostics: { type: 'array', items: ref('Diagnostic') },
            workflow: {
              type: 'object',
              description: 'When the document compiles',
              properties: {
                id: { type: 'string' },
                version: { type: 'string' },
                hash: { type: 'string' },
                steps: { type: 'integer' },
              },
            },
          },
        }),
        '400': problem('Malformed request'),
      },
    }),
  },
  '/workflows/{id}/versions': {
    get: op('Every registered version of a workflow', 'listWorkflowVersions', {
      parameters: [param('WorkflowId')],
      responses: {
        '200': json('Oldest first, with the newest named', {
          type: 'object',
          required: ['id', 'versions'],
          properties: {
            id: { type: 'string' },
            latestVersion: { type: 'string' },
            versions: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  version: { type: 'string' },
                  hash: { type: 'string' },
                  createdAt: { type: 'integer' },
                },
              },
            },
          },
        }),
        '404': problem('No such workflow'),
      },
    }),
  },
  '/workflows/{id}': {
    get: op('A registered workflow: the newest version, or ?version=', 'getWorkflow', {
      parameters: [
        param('WorkflowId'),
        { name: 'version', in: 'query', schema: { type: 'string' } },
        param('IfNoneMatch'),
      ],
      responses: {
        '200': json('The definition', ref('WorkflowDefinition'), {
          ETag: header('The content hash, quoted'),
        }),
        '304': { description: 'Not modified' },
        '404': problem('Not registered'),
      },
    }),
    put: op('Register a version of a workflow', 'putWorkflow', {
      description:
        "The body is the document; its `version` names the version and its metadata.id must equal {id}. The response's ETag is the " +
        "newest version's; `If-Match` with another ETag is 412, as is `If-None-Match: *` when the workflow exists. " +
        'Re-registering identical content is 200, also content `orchestr8 run` stored as `<version>+sha.<hash>` ' +
        '(an edited document run without a version bump): the response names that version. The same version with ' +
        'content never stored is 409, whose detail says what is stored and the version to bump to.',
      parameters: [
        param('WorkflowId'),
        { name: 'If-Match', in: 'header', schema: { type: 'string' } },
        {
          name: 'If-None-Match',
          in: 'header',
          description: '`*`: only when none exists yet',
          schema: { type: 'string' },
        },
      ],
      // body.ts parses these as YAML for PUT (the README's curl sends application/yaml).
      requestBody: {
        required: true,
        description: 'The workflow document, as JSON or YAML (the same document either way).',
        content: {
          'application/json': { schema: ref('WorkflowDocument') },
          'application/yaml': { schema: ref('WorkflowDocument') },
          'text/yaml': { schema: ref('WorkflowDocument') },
          'application/x-yaml': { schema: ref('WorkflowDocument') },
          'text/x-yaml': { schema: ref('WorkflowDocument') },
        },
      },
      responses: {
        '200': json('Already stored with this content (under the version it names)', ref('WorkflowVersion'), {
          ETag: header("The newest version's ETag"),
        }),
        '201': json('Registered', ref('WorkflowVersion'), {
          ETag: header("The newest version's ETag"),
          Location: header('The version'),
        }),
        '400': problem('Malformed request'),
        '409': problem(
          'This version exists with other content (CONFLICT; `workflowVersion`, `storedHash` and `hash` say which)',
        ),
        '412': problem('If-Match / If-None-Match failed'),
        '413': { $ref: '#/components/responses/PayloadTooLarge' },
        '415': { $ref: '#/components/responses/UnsupportedMediaType' },
        '422': problem('The document is invalid, or its metadata.id is not {id}'),
      },
    }),
  },
};

/**
 * The document. `contracts`: those of routers mounted beside the server's own routes
 * (`ServerOptions.routers`); a router's contract replaces a built-in description of the same
 * method and path.
 */
export function openApiDocument(contracts: readonly RouteContract[] = []): Json {
  const generated = generatePaths([...serverContracts, ...contracts]);
  const allPaths = { ...paths, ...triggerPaths, ...waitPaths, ...mcpPaths } as Record<string, Json>;
  for (const [path, ops] of Object.entries(generated.paths)) allPaths[path] = { ...allPaths[path], ...ops };
  return {
    openapi: '3.1.0',
    info: {
      title: 'orchestr8 API',
      version: '0.1.0',
      description:
        'Run and observe orchestr8 workflows over HTTP. Errors are RFC 9457 problem details with a stable `code`. ' +
        'Any path answers 405 (with Allow) for a method it does not support, and 404 for unknown paths. ' +
        'API keys (Authorization: Bearer or X-API-Key) are required when the server binds a non-loopback address. ' +
        'Host and Origin checks: every request, health checks included, must name the server in `Host` as ' +
        '`localhost`, a `*.localhost` name, an IP address, the host name it listens on (`--host`), or a name given with ' +
        '`--allowed-hosts` or `ORCHESTR8_ALLOWED_HOSTS` (`name`; `.domain` for the domain and its subdomains; ' +
        '`*.domain` for its subdomains only; `*` for any Host); the port is not compared. Any other Host gets 403 ' +
        '`HOST_NOT_ALLOWED`: a web page cannot reach a local server through DNS rebinding. A request with an ' +
        "`Origin` (browsers send one) must come from the server's own origin (the `Origin` host and port are the " +
        "`Host`'s; the scheme is not compared, for TLS-terminating proxies) or from an origin given with " +
        '`--cors-origin`; any other origin, and `Origin: null`, gets 403 `ORIGIN_NOT_ALLOWED` whatever the method, ' +
        'so a page on another site cannot start or cancel an execution. Requests without an `Origin` (curl, ' +
        'scripts, other servers) pass the Origin check; a request without a `Host` (HTTP/1.0, never a browser) ' +
        'passes both. ' +
        'A request body over the limit gets 413 `PAYLOAD_TOO_LARGE` and `Connection: close`: the server reads and ' +
        'drops the rest of the body (up to 64 MiB past the limit) before it closes the connection, so a client ' +
        'that sends the whole body before reading the response still gets the 413. A body declared larger than ' +
        'that is not read, and the connection closes after the 413.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: 'http://127.0.0.1:8088' }],
    security: [{ bearer: [] }, { apiKey: [] }, {}],
    paths: allPaths,
    components: {
      schemas: { ...schemas, ...generated.schemas },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'One of ORCHESTR8_API_KEYS' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      parameters: {
        ExecutionId: { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        WorkflowId: { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          description: '1-255 printable ASCII characters, bare or as a quoted string ("...")',
          schema: { type: 'string', minLength: 1, maxLength: 257 },
        },
        Prefer: { name: 'Prefer', in: 'header', description: '`wait=<seconds>`', schema: { type: 'string' } },
        Wait: {
          name: 'wait',
          in: 'query',
          description: 'Seconds to wait for the result',
          schema: { type: 'number', minimum: 0 },
        },
        LastEventId: { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
        Traceparent: {
          name: 'traceparent',
          in: 'header',
          description:
            "W3C Trace Context: the execution's trace continues the caller's (when the server exports traces)",
          schema: { type: 'string' },
        },
        IfNoneMatch: { name: 'If-None-Match', in: 'header', schema: { type: 'string' } },
        ...generated.parameters,
      },
      headers: {
        Location: { description: '/executions/{id}', schema: { type: 'string' } },
        IdempotentReplayed: {
          description: '`true` when an Idempotency-Key matched an earlier request',
          schema: { type: 'string' },
        },
      },
      responses: {
        Unauthorized: problem('UNAUTHORIZED: a valid API key is required (WWW-Authenticate: Bearer)'),
        RateLimited: {
          ...problem('RATE_LIMITED'),
          headers: { 'Retry-After': header('Seconds until the client may retry', { type: 'integer' }) },
        },
        Forbidden: problem(
          'HOST_NOT_ALLOWED: the Host is not one this server answers to; or ORIGIN_NOT_ALLOWED: a browser request from another origin',
        ),
        PayloadTooLarge: problem(
          'PAYLOAD_TOO_LARGE: the body is over the limit (1 MiB by default); the connection then closes',
        ),
        UnsupportedMediaType: problem(
          'UNSUPPORTED_MEDIA_TYPE: bodies must be application/json (PUT /workflows/{id} also takes application/yaml or text/yaml)',
        ),
        Internal: problem('INTERNAL: never with a stack trace'),
      },
    },
  };
}
