import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { type CompiledWorkflow, validateAndDefaultInputs } from '@orchestr8/schema';
import { newExecutionId } from './execution-id.js';
import type { IdempotencyClaim, Store } from './store.js';
import type { ExecutionRecord, IdempotencyRecord } from './types.js';

/**
 * Starting an execution, the parts every engine shares (in-process and distributed):
 * validated inputs, the stored definition, the record and the idempotency claim.
 */
export interface ExecutionRequest {
  inputs?: unknown;
  executionId?: string;
  idempotencyKey?: string;
  /** Fingerprint of the request that carries the key; same key + other fingerprint is a CONFLICT. */
  fingerprint?: string;
  /** How long the key is remembered; default 24 h. */
  idempotencyTtlMs?: number;
  correlationId?: string;
  parentExecutionId?: string;
  parentStepId?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The inputs with their JSON Schema defaults applied. Otherwise a VALIDATION error (the
 * family: HTTP answers 422) whose `details` are the E_INPUTS diagnostics, and whose message
 * names each problem by that code, as `validate` and the HTTP `errors` do.
 */
export function checkedInputs(workflow: CompiledWorkflow, inputs: unknown): unknown {
  const checked = validateAndDefaultInputs(workflow, inputs ?? {});
  const errors = checked.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    const problems = errors.map((d) => `${d.code} ${d.message} (at ${d.pointer || '/'})`);
    throw new ValidationError(`invalid inputs: ${problems.join('; ')}`, { details: checked.diagnostics });
  }
  return checked.value;
}

/**
 * Stores the definition once per content hash and returns the version it is stored under.
 * The same id and version with other content (a file edited without a version bump) is kept
 * apart by semver build metadata.
 */
export async function storeDefinition(
  store: Store,
  workflow: CompiledWorkflow,
  now: number,
): Promise<string> {
  const existing = await store.getDefinitionByHash(workflow.hash);
  if (existing) return existing.version;
  const def = {
    id: workflow.id,
    version: workflow.version,
    hash: workflow.hash,
    document: workflow.document,
    createdAt: now,
  };
  try {
    await store.putDefinition(def);
    return def.version;
  } catch (e) {
    if ((e as { code?: unknown }).code !== ErrorCode.CONFLICT) throw e;
    const version = `${workflow.version}+sha.${workflow.hash.slice(0, 12)}`;
    await store.putDefinition({ ...def, version });
    return version;
  }
}

/** A new execution that starts at once (stored as running), and its idempotency claim if a key was given. */
export function newExecution(
  workflow: CompiledWorkflow,
  version: string,
  inputs: unknown,
  req: ExecutionRequest,
  now: number,
): { record: ExecutionRecord; claim: IdempotencyClaim | undefined } {
  const record: ExecutionRecord = {
    id: req.executionId ?? newExecutionId(now),
    workflowId: workflow.id,
    workflowVersion: version,
    definitionHash: workflow.hash,
    // It starts right away: stored as running, which saves the first commit rewriting the row.
    status: 'running',
    statusReason: 'started',
    inputs,
    createdAt: now,
    startedAt: now,
    updatedAt: now,
  };
  if (req.idempotencyKey !== undefined) record.idempotencyKey = req.idempotencyKey;
  if (req.correlationId !== undefined) record.correlationId = req.correlationId;
  if (req.parentExecutionId !== undefined) record.parentExecutionId = req.parentExecutionId;
  if (req.parentStepId !== undefined) record.parentStepId = req.parentStepId;
  const claim =
    req.idempotencyKey !== undefined
      ? {
          key: req.idempotencyKey,
          fingerprint: req.fingerprint ?? workflow.hash,
          expiresAt: now + (req.idempotencyTtlMs ?? DAY_MS),
        }
      : undefined;
  return { record, claim };
}

/** An existing claim matched the key: CONFLICT when it was made for a different request. */
export function assertSameRequest(claim: IdempotencyClaim | undefined, existing: IdempotencyRecord): void {
  if (claim && existing.fingerprint !== claim.fingerprint) {
    throw new Orchestr8Error(
      ErrorCode.CONFLICT,
      `idempotency key "${existing.key}" was already used for a different request (execution ${existing.executionId})`,
      { retryable: false, details: { executionId: existing.executionId } },
    );
  }
}
