/**
 * Route contracts: each HTTP route is declared once, as data: method, path, parameters, body
 * and responses as zod schemas. The same contract validates requests (`validate.ts`) and
 * generates the OpenAPI document (`openapi.ts`). Packages that mount a router on the server
 * (`ServerOptions.routers`) declare theirs with the same helpers.
 */
import { z } from 'zod';
import { ProblemCode } from '../problem.js';

export type ContractMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Any zod schema. */
export type Schema = z.ZodType;

/** A header the route reads: documented (its own parser checks it, with its own problem code). */
export interface HeaderSpec {
  name: string;
  description?: string;
  schema: Schema;
  required?: boolean;
  /** Shared under `components/parameters/<component>` and referenced. */
  component?: string;
}

export interface ResponseSpec {
  description: string;
  /** Media type -> schema; absent for a response without a body. */
  content?: Record<string, Schema>;
  /** Header name -> spec (or the name of a header in `components/headers`). */
  headers?: Record<string, { description: string; schema: Schema } | { component: string }>;
  /** A shared response in `components/responses` (problems every route may answer with). */
  component?: string;
}

export interface BodySpec<B extends Schema = Schema> {
  schema: B;
  required?: boolean;
  description?: string;
  /** Media types beside `application/json` (documented with the same schema; text arrives as a string). */
  mediaTypes?: readonly string[];
  /** `false`: only `mediaTypes`, not `application/json`. */
  json?: boolean;
  /** The detail of the 400 when a required body is missing. */
  missing?: string;
  /** The detail of the 400 when the body is not an object. */
  notObject?: string;
}

export interface RouteContract {
  method: ContractMethod;
  /** Express syntax (`/executions/:id`). */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags?: readonly string[];
  /** Path parameters: an object schema of strings. */
  params?: z.ZodObject;
  /** Query parameters: an object schema; each value arrives as a string, or an array when repeated. */
  query?: z.ZodObject;
  headers?: readonly HeaderSpec[];
  body?: BodySpec;
  /** Status (or `default`) -> response. 401/403/429/500 are added unless `public`. */
  responses: Record<string, ResponseSpec>;
  /** Answered before API-key auth and rate limiting (only the Host check applies). */
  public?: boolean;
  /** Overrides the document's `security` for this operation. */
  security?: readonly Record<string, readonly string[]>[];
  /** The package whose router serves it (`x-orchestr8-router`), for routes the server only mounts. */
  router?: string;
}

/** Declares a route; keeps its exact types, for typed handlers. */
export function defineRoute<const C extends RouteContract>(contract: C): C {
  return contract;
}

/** What a handler gets once its request passed its contract. */
export interface RequestInput<C extends RouteContract> {
  params: C['params'] extends z.ZodObject ? z.output<C['params']> : Record<string, string>;
  query: C['query'] extends z.ZodObject ? z.output<C['query']> : undefined;
  body: C['body'] extends BodySpec<infer B>
    ? C['body'] extends { required: true }
      ? z.output<B>
      : z.output<B> | undefined
    : undefined;
}

/** Schemas shared by several routes, by name: `components/schemas/<name>` in the document. */
export const componentSchemas = new Map<string, Schema>();

/** Registers `schema` as the shared schema `name` and returns it. */
export function component<S extends Schema>(name: string, schema: S): S {
  const known = componentSchemas.get(name);
  if (known !== undefined && known !== schema) throw new Error(`two schemas are named "${name}"`);
  componentSchemas.set(name, schema);
  return schema;
}

/**
 * The JSON Schema documented for `schema`, instead of the one derived from it: for values whose
 * validation is another package's (a workflow document is checked by @orchestr8/schema, with
 * diagnostics), while the contract only checks their outline.
 */
export const documentedAs = new WeakMap<Schema, Record<string, unknown>>();
export function documented<S extends Schema>(schema: S, jsonSchema: Record<string, unknown>): S {
  documentedAs.set(schema, jsonSchema);
  return schema;
}

export const Diagnostic = component(
  'Diagnostic',
  z
    .object({
      code: z.string().meta({ examples: ['E_SCHEMA', 'E_UNKNOWN_STEP', 'E_INPUTS', 'E_REQUEST'] }),
      severity: z.enum(['error', 'warning']),
      message: z.string(),
      pointer: z.string().describe('RFC 6901 JSON pointer to the offending node.'),
      line: z.number().int().optional(),
      column: z.number().int().optional(),
      hint: z.string().optional(),
    })
    .describe(
      'One problem, as `orchestr8 validate` reports it. Request-shape problems have code `E_REQUEST`.',
    ),
);

export const CapabilityProblem = component(
  'CapabilityProblem',
  z.object({
    stepId: z.string().optional().describe('The step that asks (absent for document-level asks).'),
    capability: z.string().describe('What is asked for, e.g. `env`, `@orchestr8/shell.allow`.'),
    message: z.string(),
    grant: z.string().describe('How the operator grants it.'),
  }),
);

export const Problem = component(
  'Problem',
  z
    .object({
      type: z.url(),
      title: z.string(),
      status: z.number().int(),
      detail: z.string(),
      code: z.string().meta({
        // Every code the server answers with, and SIGNATURE_INVALID of the triggers' webhooks.
        examples: [...new Set([...Object.values(ProblemCode), 'SIGNATURE_INVALID'])],
      }),
      instance: z.string().optional(),
      errors: z
        .array(Diagnostic)
        .optional()
        .describe('Every problem found (validation and request-shape errors).'),
      warnings: z.array(Diagnostic).optional(),
      problems: z
        .array(CapabilityProblem)
        .optional()
        .describe('CAPABILITY_DENIED (403): each thing the document asks beyond what this server grants.'),
      executionId: z.string().optional().describe('409 of an operation on an execution: which one.'),
      executionStatus: z
        .string()
        .optional()
        .describe(
          'EXECUTION_FINISHED, EXECUTION_NOT_RETRYABLE, EXECUTION_NOT_FINISHED and CONFLICT (409): the status it has.',
        ),
      host: z.string().optional().describe('HOST_NOT_ALLOWED (403): the Host header refused.'),
      origin: z.string().optional().describe('ORIGIN_NOT_ALLOWED (403): the Origin header refused.'),
      currentEtag: z.string().optional().describe('PRECONDITION_FAILED (412): the current ETag.'),
      workflowVersion: z
        .string()
        .optional()
        .describe('CONFLICT of PUT /workflows/{id} (409): the version stored with other content.'),
      storedHash: z
        .string()
        .optional()
        .describe('CONFLICT of PUT /workflows/{id} (409): the stored content hash.'),
      hash: z.string().optional().describe('CONFLICT of PUT /workflows/{id} (409): the content hash sent.'),
      reason: z
        .string()
        .optional()
        .describe("RATE_LIMITED by the document's policies.flow (429): `rate_limited` or `queue_full`."),
    })
    .describe('RFC 9457 problem details. `code` is stable and machine-readable; `detail` is for people.'),
);

// Responses.
export const json = (
  description: string,
  schema: Schema,
  headers?: ResponseSpec['headers'],
): ResponseSpec => ({
  description,
  content: { 'application/json': schema },
  ...(headers ? { headers } : {}),
});
/** A problem (`application/problem+json`, the `Problem` schema). */
export const problem = (description: string): ResponseSpec => ({
  description,
  content: { 'application/problem+json': Problem },
});
/** A 403 of a route that refuses for its own reason too: the Host and Origin checks apply to every route. */
export const forbidden = (own: string): ResponseSpec =>
  problem(
    `${own}; or HOST_NOT_ALLOWED: the Host is not one this server answers to (\`host\`); or ORIGIN_NOT_ALLOWED: ` +
      'a browser request from another origin (`origin`)',
  );
export const shared = (name: string): ResponseSpec => ({ description: name, component: name });
export const empty = (description: string): ResponseSpec => ({ description });
export const header = (description: string, schema: Schema = z.string()) => ({ description, schema });

// Query parameters arrive as strings (arrays when repeated): these parse them.
const SAFE_INT = /^\d{1,15}$/;

/** A single-valued string parameter (repeated: 400 "must be a single value"). */
export const queryString = () => z.string({ error: 'must be given once' });

/** An integer in [min, max] given as decimal digits. */
export function queryInt(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: 'must be given once' })
    .regex(SAFE_INT, message)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

/** Every value, repeated (`?a=x&a=y`) and/or comma-separated (`?a=x,y`), each checked by `item`. */
export function queryList<I extends z.ZodType<unknown, string>>(item: I) {
  return z
    .union([z.string(), z.array(z.string())], { error: 'is malformed' })
    .transform((v) =>
      (Array.isArray(v) ? v : [v]).flatMap((s) =>
        s
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== ''),
      ),
    )
    .pipe(z.array(item));
}
