/** Workflow definitions: register a version, read, list, and validate a document. */
import { WorkflowDocumentSchema } from '@orchestr8/schema/zod';
import { z } from 'zod';
import { anObject, IfNoneMatch, WorkflowDocument } from './common.js';
import {
  component,
  Diagnostic,
  defineRoute,
  documented,
  forbidden,
  header,
  json,
  problem,
  queryString,
  shared,
} from './contract.js';
import { CAPABILITY_DENIED } from './executions.js';

const tags = ['Workflows'];

export const WorkflowVersion = component(
  'WorkflowVersion',
  z.object({
    id: z.string(),
    version: z.string(),
    hash: z.string().describe('sha256 of the canonical document; the ETag of the resource.'),
    createdAt: z.number().int(),
    latestVersion: z.string().optional(),
  }),
);

export const WorkflowDefinition = component(
  'WorkflowDefinition',
  z.intersection(WorkflowVersion, z.object({ document: WorkflowDocument })),
);

export const WorkflowList = component(
  'WorkflowList',
  z.object({
    items: z.array(
      z.object({
        id: z.string(),
        latestVersion: z.string().optional(),
        versions: z.array(WorkflowVersion),
      }),
    ),
  }),
);

const WorkflowIdParams = z.object({ id: z.string() });

/**
 * `/workflows/execute` and `/workflows/validate` are routes, so no workflow is registered over
 * HTTP under these ids (in any letter case: routing ignores case); they answer only POST.
 */
export const RESERVED_WORKFLOW_IDS: readonly string[] = ['execute', 'validate'];
export const isReservedWorkflowId = (id: string): boolean => RESERVED_WORKFLOW_IDS.includes(id.toLowerCase());

/** The longest workflow id a URL may name (the document schema sets no bound). */
export const WORKFLOW_ID_MAX_LENGTH = 255;
/** The document schema's rule for metadata.id: a URL id is checked by the same one. */
const documentId = WorkflowDocumentSchema.shape.metadata.shape.id;
const ID_PATTERN = String((z.toJSONSchema(documentId) as { pattern?: unknown }).pattern);
const ID_RULE = `must be a workflow id matching ${ID_PATTERN} (letters, digits, "_", "." and "-") of at most ${WORKFLOW_ID_MAX_LENGTH} characters`;

/** The {id} of PUT: a valid workflow id, not a reserved one (400 naming the rule). */
const RegisteredIdParams = z.object({
  id: documented(
    z.string().superRefine((id, ctx) => {
      if (id.length > WORKFLOW_ID_MAX_LENGTH || !documentId.safeParse(id).success)
        ctx.addIssue({ code: 'custom', message: ID_RULE });
      else if (isReservedWorkflowId(id))
        ctx.addIssue({
          code: 'custom',
          message: `must not be "${id}": ${RESERVED_WORKFLOW_IDS.map((r) => `"${r}"`).join(' and ')} are reserved (they are routes)`,
        });
    }),
    {
      type: 'string',
      pattern: ID_PATTERN,
      maxLength: WORKFLOW_ID_MAX_LENGTH,
      description: `The workflow id (metadata.id). Not ${RESERVED_WORKFLOW_IDS.map((r) => `"${r}"`).join(' or ')}, in any letter case.`,
    },
  ),
});
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'];

const ValidatedDocument = z.union([z.string(), anObject()], { error: 'must be a string or an object' });
const BODY_SHAPE = '{"workflow": <YAML or JSON text, or an object>} (or "document" in place of "workflow")';
const DOCUMENT_REQUIRED = `"workflow" (or "document") is required: ${BODY_SHAPE}`;

export const validateWorkflow = defineRoute({
  method: 'post',
  path: '/workflows/validate',
  operationId: 'validateWorkflow',
  summary: 'Validate a workflow document without storing or running it',
  tags,
  description:
    'The diagnostics `orchestr8 validate` gives (codes, JSON pointers, and 1-based line and column when the document ' +
    "is YAML or JSON text), the agents checked against this server's registry, plus a CAPABILITY_DENIED diagnostic " +
    'for each thing the document asks beyond what this host grants. An invalid document is a 200 with `valid: false`. ' +
    'The document goes in `workflow`, as for POST /workflows/execute, or in `document`: exactly one of the two.',
  body: {
    schema: z
      .strictObject({
        workflow: ValidatedDocument.optional().describe(
          'The document, named as in POST /workflows/execute: YAML or JSON text (diagnostics then carry line and column), or an object',
        ),
        document: ValidatedDocument.optional().describe('The same as `workflow` (its first name)'),
      })
      .superRefine((b, ctx) => {
        if (b.workflow !== undefined && b.document !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['document'],
            message: 'must not be given with "workflow": give the document once, in either',
          });
        else if (b.workflow === undefined && b.document === undefined)
          ctx.addIssue({ code: 'custom', path: [], message: DOCUMENT_REQUIRED });
      })
      .describe('Exactly one of `workflow` and `document`.'),
    required: true,
    missing: `a JSON body is required: ${BODY_SHAPE}`,
    notObject: `a JSON body is required: ${BODY_SHAPE}`,
  },
  responses: {
    '200': json(
      'The verdict',
      z.object({
        valid: z.boolean(),
        diagnostics: z.array(Diagnostic),
        workflow: z
          .object({
            id: z.string().optional(),
            version: z.string().optional(),
            hash: z.string().optional(),
            steps: z.number().int().optional(),
          })
          .optional()
          .describe('When the document compiles'),
      }),
    ),
    '400': problem('Malformed request'),
  },
});

export const listWorkflows = defineRoute({
  method: 'get',
  path: '/workflows',
  operationId: 'listWorkflows',
  summary: 'Registered workflows and their versions',
  tags,
  responses: { '200': json('Workflows', WorkflowList) },
});

export const getWorkflow = defineRoute({
  method: 'get',
  path: '/workflows/:id',
  operationId: 'getWorkflow',
  summary: 'A registered workflow: the newest version, or ?version=',
  tags,
  params: WorkflowIdParams,
  query: z.object({ version: queryString().optional() }),
  headers: [IfNoneMatch],
  responses: {
    '200': json('The definition', WorkflowDefinition, { ETag: header('The content hash, quoted') }),
    '304': { description: 'Not modified' },
    '404': problem('Not registered'),
  },
});

export const listWorkflowVersions = defineRoute({
  method: 'get',
  path: '/workflows/:id/versions',
  operationId: 'listWorkflowVersions',
  summary: 'Every registered version of a workflow',
  tags,
  params: WorkflowIdParams,
  responses: {
    '200': json(
      'Oldest first, with the newest named',
      z.object({
        id: z.string(),
        latestVersion: z.string().optional(),
        versions: z.array(
          z.object({
            id: z.string().optional(),
            version: z.string().optional(),
            hash: z.string().optional(),
            createdAt: z.number().int().optional(),
          }),
        ),
      }),
    ),
    '404': problem('No such workflow'),
  },
});

const newest = header("The newest version's ETag");

export const putWorkflow = defineRoute({
  method: 'put',
  path: '/workflows/:id',
  operationId: 'putWorkflow',
  summary: 'Register a version of a workflow',
  tags,
  description:
    "The body is the document; its `version` names the version and its metadata.id must equal {id}. The response's ETag is the " +
    "newest version's; `If-Match` with another ETag is 412, as is `If-None-Match: *` when the workflow exists. " +
    'Re-registering identical content is 200, also content `orchestr8 run` stored as `<version>+sha.<hash>` ' +
    '(an edited document run without a version bump): the response names that version. The same version with ' +
    'content never stored is 409, whose detail says what is stored and the version to bump to. An {id} that is not ' +
    `a workflow id (${ID_PATTERN}, at most ${WORKFLOW_ID_MAX_LENGTH} characters) is 400; the ids ` +
    `${RESERVED_WORKFLOW_IDS.map((r) => `"${r}"`).join(' and ')} are reserved (PUT /workflows/execute is 405), and a document whose ` +
    'metadata.id is one of them is 422, here and in POST /workflows/execute.',
  params: RegisteredIdParams,
  headers: [
    { name: 'If-Match', schema: z.string() },
    { name: 'If-None-Match', description: '`*`: only when none exists yet', schema: z.string() },
  ],
  // body.ts keeps YAML bodies as text for PUT (the README's curl sends application/yaml).
  body: {
    schema: WorkflowDocument,
    required: true,
    description: 'The workflow document, as JSON or YAML (the same document either way).',
    mediaTypes: YAML_TYPES,
    missing: 'the body must be a workflow document (JSON or YAML)',
    notObject: 'the body must be a workflow document (a JSON object)',
  },
  responses: {
    '200': json('Already stored with this content (under the version it names)', WorkflowVersion, {
      ETag: newest,
    }),
    '201': json('Registered', WorkflowVersion, { ETag: newest, Location: header('The version') }),
    '400': problem('Malformed request, or {id} is not a workflow id'),
    '403': forbidden(CAPABILITY_DENIED),
    '409': problem(
      'This version exists with other content (CONFLICT; `workflowVersion`, `storedHash` and `hash` say which)',
    ),
    '412': problem('If-Match / If-None-Match failed'),
    '413': shared('PayloadTooLarge'),
    '415': shared('UnsupportedMediaType'),
    '422': problem('The document is invalid, its metadata.id is not {id}, or is a reserved id'),
  },
});

// `/workflows/validate` before `/workflows/:id`: a fixed path wins over the parametric one.
export const workflowContracts = [
  validateWorkflow,
  listWorkflows,
  getWorkflow,
  listWorkflowVersions,
  putWorkflow,
];
