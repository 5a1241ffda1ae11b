import { isAbsolute, relative, resolve, sep } from 'node:path';
import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { GrantDenied } from '@orchestr8/core';
import { formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import { grantHint, literalString, narrowRoot } from './agent-grants.js';
import { isRecord } from './http-util.js';
import { projectRoots, resolveInside } from './project-path.js';

export interface WorkflowInput {
  /** An inline workflow document. */
  workflow?: Record<string, unknown>;
  /** A workflow file (YAML or JSON), relative to the project root. */
  path?: string;
  /** The child's inputs. */
  inputs?: unknown;
}

export interface WorkflowOutput {
  executionId: string;
  status: string;
  outputs: unknown;
}

const inputSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workflow: { type: 'object' },
    path: { type: 'string', minLength: 1 },
    inputs: {},
  },
  oneOf: [{ required: ['workflow'] }, { required: ['path'] }],
} as const;

const outputSchema = {
  type: 'object',
  required: ['executionId', 'status', 'outputs'],
  properties: { executionId: { type: 'string' }, status: { type: 'string' }, outputs: {} },
} as const;

/** Workflow documents: the only files the agent reads. */
const DOCUMENT_FILE = /\.(ya?ml|json)$/i;
/** Diagnostics of an invalid child file the step's error carries (a bounded, readable few). */
const MAX_REPORTED = 5;
const MAX_REPORTED_CHARS = 300;

const clip = (s: string) => (s.length > MAX_REPORTED_CHARS ? `${s.slice(0, MAX_REPORTED_CHARS)}…` : s);

/**
 * Loads a child workflow file from inside the operator's root. The agent loads workflow
 * documents, not files: only `.yaml`, `.yml` and `.json`, and none under a hidden directory
 * or hidden itself (`.orchestr8/`, where the default store lives, `.git/`, `.env.json`),
 * since an invalid file's diagnostics quote its text back to the caller. Those are few and
 * clipped, for the same reason.
 */
async function loadChildFile(config: Readonly<Record<string, unknown>>, path: string): Promise<unknown> {
  const { root, limit } = await projectRoots(config, 'workflow');
  const file = await resolveInside(root, path, 'workflow', 'path');
  if (file.isDirectory) throw new ValidationError(`workflow: path "${path}" is a directory`);
  // Hidden relative to the operator's root, not to the root a document narrowed to: a step's
  // `root: .orchestr8` (or a root that is itself a hidden file) must not make its files plain.
  const hidden = relative(limit, file.path)
    .split(sep)
    .some((segment) => segment.startsWith('.'));
  if (hidden || !DOCUMENT_FILE.test(file.path)) {
    throw new ValidationError(
      `workflow: path "${path}" is not a workflow file: it loads .yaml, .yml or .json files, outside hidden directories`,
    );
  }
  const loaded = await loadWorkflowFile(file.path);
  if (loaded.ok && loaded.document !== undefined) return loaded.document;
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  throw new ValidationError(
    `workflow: ${path} is not a valid workflow${first ? `: ${clip(formatDiagnostic(first))}` : ''}`,
    {
      details: {
        errors: errors.length,
        first: errors.slice(0, MAX_REPORTED).map((d) => ({
          code: d.code,
          line: d.line,
          column: d.column,
          message: clip(d.message),
          pointer: clip(d.pointer),
        })),
      },
    },
  );
}

/**
 * Runs another workflow as a child execution of this step (linked in the store and the
 * journal; a retry or a crash re-run finds the same child). A child that does not complete
 * fails the step with the child's error code.
 */
export const workflowAgent = defineAgent<WorkflowInput, WorkflowOutput>({
  id: '@orchestr8/workflow',
  version: '1.0.0',
  description:
    'Runs a sub-workflow (inline, or from a .yaml, .yml or .json file in the project, not hidden) and returns its outputs.',
  inputSchema,
  outputSchema,
  // Files load from inside the operator's root (default: the working directory) only.
  grant: (requested, operator) => ({
    ...requested,
    ...narrowRoot(requested, operator, '@orchestr8/workflow'),
  }),
  // A literal path that leaves the root is refused before the execution is recorded. As
  // written only: links are followed, and hidden names and extensions judged on the real
  // path, when the file is loaded.
  grantInput(input, config) {
    const path = literalString(isRecord(input) ? input.path : undefined);
    if (path === undefined || typeof config.root !== 'string') return;
    const limit = typeof config.rootLimit === 'string' ? config.rootLimit : config.root;
    const rel = relative(limit, resolve(config.root, path));
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new GrantDenied(
        '@orchestr8/workflow.root',
        `workflow: path "${path}" is outside the project root ${limit}`,
        grantHint('@orchestr8/workflow', 'root'),
      );
    }
  },
  async execute(input, ctx) {
    const hasInline = input.workflow !== undefined;
    const hasPath = input.path !== undefined;
    if (hasInline === hasPath) throw new ValidationError('workflow: give exactly one of workflow or path');
    let document: unknown;
    if (hasInline) {
      if (!isRecord(input.workflow))
        throw new ValidationError('workflow: workflow must be a document object');
      document = input.workflow;
    } else {
      document = await loadChildFile(ctx.config, input.path!);
    }
    const result = await ctx.runWorkflow(document, { inputs: input.inputs ?? {} });
    if (result.status === 'completed') {
      return { executionId: result.executionId, status: result.status, outputs: result.outputs ?? {} };
    }
    const childError = result.error as { code?: unknown; message?: unknown; retryable?: unknown } | undefined;
    const code = typeof childError?.code === 'string' ? childError.code : ErrorCode.AGENT_FAILED;
    const reason = typeof childError?.message === 'string' ? `: ${childError.message}` : '';
    throw new Orchestr8Error(code, `sub-workflow execution ${result.executionId} ${result.status}${reason}`, {
      retryable: childError?.retryable === true,
      details: { childExecutionId: result.executionId, status: result.status, error: result.error },
    });
  },
});
