/** Schemas and headers several route families share. */
import { z } from 'zod';
import { component, documented, type HeaderSpec } from './contract.js';

export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'waiting',
  'completed',
  'failed',
  'cancelled',
] as const;
export const executionStatus = () => z.enum(EXECUTION_STATUSES);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Any JSON object (not an array), taken as it is: its content is checked elsewhere (a
 * document by @orchestr8/schema, inputs by the workflow's inputs schema). Not copied, as a
 * parsed object would be: it is on the path of every execution.
 */
export const anObject = (description?: string) =>
  documented(z.custom<Record<string, unknown>>(isObject, 'must be an object'), {
    type: 'object',
    ...(description !== undefined ? { description } : {}),
  });

export const SerializedError: z.ZodType = component(
  'SerializedError',
  z.object({
    name: z.string(),
    code: z.string(),
    message: z.string(),
    retryable: z.boolean(),
    attempts: z.number().int().optional(),
    retryAfterMs: z.number().optional(),
    details: z.unknown().optional(),
    get cause() {
      return SerializedError.optional();
    },
  }),
);

/**
 * A workflow document. The contract checks that it is an object; @orchestr8/schema checks the
 * rest and answers 422 with a diagnostic per problem (code, pointer), as `orchestr8 validate` does.
 */
export const WorkflowDocument = component(
  'WorkflowDocument',
  documented(anObject(), {
    type: 'object',
    description: 'An orchestr8 workflow document (see the published workflow JSON Schema).',
    required: ['version', 'metadata', 'steps'],
    properties: {
      version: { type: 'string' },
      metadata: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      steps: { type: 'array', items: { type: 'object' } },
    },
  }),
);

export const ExecutionIdParams = z.object({ id: z.string() });

export const IdempotencyKey: HeaderSpec = {
  name: 'Idempotency-Key',
  component: 'IdempotencyKey',
  description: '1-255 printable ASCII characters, bare or as a quoted string ("...")',
  schema: z.string().min(1).max(257),
};
export const IfNoneMatch: HeaderSpec = {
  name: 'If-None-Match',
  component: 'IfNoneMatch',
  schema: z.string(),
};
export const LastEventId: HeaderSpec = {
  name: 'Last-Event-ID',
  component: 'LastEventId',
  schema: z.string(),
};

export const location = { component: 'Location' } as const;
export const idempotentReplayed = { component: 'IdempotentReplayed' } as const;
