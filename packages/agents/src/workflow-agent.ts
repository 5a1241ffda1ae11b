import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import { narrowRoot } from './agent-grants.js';
import { isRecord } from './http-util.js';
import { projectRoot, resolveInside } from './project-path.js';

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

/**
 * Runs another workflow as a child execution of this step (linked in the store and the
 * journal; a retry or a crash re-run finds the same child). A child that does not complete
 * fails the step with the child's error code.
 */
export const workflowAgent = defineAgent<WorkflowInput, WorkflowOutput>({
  id: '@orchestr8/workflow',
  version: '1.0.0',
  description: 'Runs a sub-workflow (inline or from a file in the project) and returns its outputs.',
  inputSchema,
  outputSchema,
  // Files load from inside the operator's root (default: the working directory) only.
  grant: (requested, operator) => ({
    ...requested,
    ...narrowRoot(requested, operator, '@orchestr8/workflow'),
  }),
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
      const root = await projectRoot(ctx.config, 'workflow');
      const file = await resolveInside(root, input.path!, 'workflow', 'path');
      if (file.isDirectory) throw new ValidationError(`workflow: path "${input.path}" is a directory`);
      const loaded = await loadWorkflowFile(file.path);
      if (!loaded.ok || loaded.document === undefined) {
        const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
        const first = errors[0];
        throw new ValidationError(
          `workflow: ${input.path} is not a valid workflow${first ? `: ${formatDiagnostic(first)}` : ''}`,
          { details: errors },
        );
      }
      document = loaded.document;
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
