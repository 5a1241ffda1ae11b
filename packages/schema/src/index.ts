/**
 * @module @orchestr8/schema
 * The workflow document model: zod types, the published JSON Schema, the loader and
 * validator (diagnostics with codes and line:col), templates and condition expressions,
 * and the compiled form the engine runs.
 *
 * @example
 * import { formatDiagnostic, loadWorkflowFile, renderValue } from '@orchestr8/schema';
 *
 * const loaded = await loadWorkflowFile('workflows/hello-world.yaml');
 * if (!loaded.ok) for (const d of loaded.diagnostics) console.error(formatDiagnostic(d));
 * const step = loaded.workflow!.steps[0]!;
 * const input = renderValue(step.input, { steps: {}, inputs: { name: 'Ada' }, variables: {}, env: {} });
 */

export { STANDARD_AGENT_IDS } from './agent-check.js';
export { compileWorkflow } from './analyze.js';
export {
  type CatchUpPolicy,
  type CircuitBreakerPolicy,
  type CompiledFlowControl,
  type CompiledSchedule,
  type CompiledStep,
  type CompiledTrigger,
  type CompiledWait,
  type CompiledWaitEvent,
  type CompiledWorkflow,
  canonicalJson,
  type OverlapPolicy,
  type PolicyName,
  type ResolvedStepPolicies,
  type RetryPolicy,
  WAIT_AGENT_ID,
} from './compiled.js';
export { COMPOSITIONS, DEFAULTS } from './defaults.js';
export { type Diagnostic, DiagnosticCode, formatDiagnostic } from './diagnostics.js';
export {
  checkDocumentObject,
  createJsonSchemaCheck,
  type DocumentCheck,
  type DocumentLoadResult,
  type DocumentProblem,
  jsonSchemaProblems,
  type LoadDocumentOptions,
  loadDocument,
  loadDocumentFile,
} from './document-loader.js';
// Types only: the zod schemas themselves are in '@orchestr8/schema/zod' (zod.ts), so that
// importing this entry does not load zod.
export type {
  AgentRefDocument,
  CircuitBreakerPolicyDocument,
  DurationDocument,
  RetryPolicyDocument,
  StepDocument,
  StepPoliciesDocument,
  TriggerDocument,
  WaitDocument,
  WaitEventDocument,
  WorkflowDocument,
  WorkflowPoliciesDocument,
} from './document-schema.js';
export { DURATION_PATTERN, POSITIVE_DURATION_PATTERN, parseDuration } from './duration.js';
export { type CompiledExpression, compileExpression, ExpressionError } from './expression.js';
export { validateAndDefaultInputs, validateInputs } from './inputs.js';
export { getWorkflowJsonSchema, WORKFLOW_SCHEMA_ID } from './json-schema.js';
export {
  type AgentOptions,
  type LoadOptions,
  type LoadResult,
  loadWorkflow,
  loadWorkflowFile,
  validateWorkflowObject,
} from './load.js';
export { LIMITS } from './parse.js';
export { FORBIDDEN_KEYS, lookupPath, type PathSegment } from './path.js';
export { AGENT_ID_PATTERN } from './patterns.js';
// Spelling suggestions ("did you mean"), for documents of other packages (streams).
export { closest } from './suggest.js';
export {
  type CompiledValue,
  collectRefs,
  compileValue,
  renderValue,
  type TemplateRef,
  type TemplateRoot,
  type TemplateScope,
} from './template.js';
export { cronProblem, isKnownTimezone } from './triggers.js';
export { isIsoDateTime, WAIT_KINDS } from './waits.js';
