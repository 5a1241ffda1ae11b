/**
 * @module @orchestr8/testing
 * Test workflows and agents without waiting and without real services: a test engine on a
 * fake clock that skips time (retries and timeouts take no real time), mock agents that
 * fail, succeed or stall attempt by attempt, assertions over results and journals that
 * work in any test framework, and the runner behind `orchestr8 test` for declarative
 * `*.test.yaml` files. HTTP mocks (msw) are in `@orchestr8/testing/http`.
 *
 * @example
 * import { createTestEngine, expectStep, mockAgent } from '@orchestr8/testing';
 *
 * const engine = createTestEngine({
 *   agents: [mockAgent('@acme/fetch', [{ fail: 'RETRYABLE' }, { result: { items: 3 } }])],
 * });
 * const result = await engine.run('workflows/fetch.yaml', { inputs: { id: 7 } });
 * expectStep(result, 'fetch').toHaveCompleted().toHaveAttempts(2).toHaveOutput({ items: 3 });
 * (await engine.journal(result)).expect({ type: 'step.retrying', stepId: 'fetch', count: 1 });
 */

export {
  expectResult,
  expectStep,
  type ResultExpectation,
  type StepExpectation,
} from './assertions.js';
export {
  type ExecutionReplayReport,
  type RecordedRun,
  type RecordedRunOptions,
  type ReplayDifference,
  type ReplayDifferenceKind,
  type ReplayExecutionOptions,
  replayExecution,
  runRecorded,
} from './execution-replay.js';
export {
  createJournalView,
  type JournalFact,
  type JournalSource,
  type JournalView,
  journalOf,
} from './journal-view.js';
export { diffValues, type Mismatch, matchPartial } from './match.js';
export {
  isMockAgent,
  type MockAgent,
  type MockAgentOptions,
  type MockBehaviour,
  type MockCall,
  type MockFunction,
  type MockOutcome,
  mockAgent,
} from './mock-agent.js';
export { type SendAction, sendProblems } from './send-actions.js';
export {
  createTestEngine,
  type TestEngine,
  type TestEngineOptions,
  type TestRunOptions,
  type WorkflowSource,
} from './test-engine.js';
export {
  loadWorkflowTestFile,
  parseWorkflowTestDocument,
  type StepExpectationSpec,
  type WorkflowTestCase,
  type WorkflowTestExpectation,
  type WorkflowTestFile,
} from './workflow-test-file.js';
export {
  checkWorkflowTest,
  runWorkflowTest,
  type TestFailure,
  type WorkflowTestOptions,
  type WorkflowTestOutcome,
} from './workflow-test-runner.js';
