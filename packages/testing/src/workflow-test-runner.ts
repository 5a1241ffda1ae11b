import { ensureError } from '@orchestr8/common';
import type { Agent, Capabilities, ExecutionResult } from '@orchestr8/core';
import { describeFact, type JournalView } from './journal-view.js';
import { diffValues, type Mismatch, matchPartial, short } from './match.js';
import { type MockAgent, mockAgent } from './mock-agent.js';
import { unusedMocks } from './mock-use.js';
import { createTestEngine } from './test-engine.js';
import type { WorkflowTestCase, WorkflowTestExpectation } from './workflow-test-file.js';

export interface WorkflowTestOptions {
  /** Your agents (e.g. those of the project config); the test's mocks replace agents by id. */
  agents?: Iterable<Agent>;
  /** Default: the built-in and standard agents. */
  baseAgents?: Iterable<Agent>;
  /** For steps with an agent `url` that the test does not mock. */
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /** Real time one case may take (unmocked agents run in real time). Default 30 s. */
  timeoutMs?: number;
  env?: Readonly<Record<string, string | undefined>>;
  /** The operator's grants, as `orchestr8 run` has them (the project config's). */
  capabilities?: Capabilities;
}

/** One way a test case failed. */
export interface TestFailure {
  /** What was checked, e.g. `status`, `outputs`, `steps.fetch.attempts`, `journal[0]`. */
  path: string;
  message: string;
  /** A `- expected` / `+ actual` line diff, for structured values. */
  diff?: string;
}

export interface WorkflowTestOutcome {
  name: string;
  file: string;
  passed: boolean;
  /** Real milliseconds. */
  durationMs: number;
  failures: TestFailure[];
  result?: ExecutionResult;
}

/** Runs one case on a test engine (fake clock, in-memory store) and checks its expectations. */
export async function runWorkflowTest(
  tc: WorkflowTestCase,
  options: WorkflowTestOptions = {},
): Promise<WorkflowTestOutcome> {
  const started = performance.now();
  const mocks = Object.entries(tc.mocks).map(([id, outcomes]) => mockAgent(id, outcomes));
  const engine = createTestEngine({
    agents: [...(options.agents ?? []), ...mocks],
    ...(options.baseAgents ? { baseAgents: options.baseAgents } : {}),
    ...(options.remoteAgent ? { remoteAgent: options.remoteAgent } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  });
  const outcome = (failures: TestFailure[], result?: ExecutionResult): WorkflowTestOutcome => ({
    name: tc.name,
    file: tc.file,
    passed: failures.length === 0,
    durationMs: Math.round(performance.now() - started),
    failures,
    ...(result ? { result } : {}),
  });

  let workflow: Awaited<ReturnType<typeof engine.load>>;
  try {
    workflow = await engine.load(tc.workflow);
  } catch (e) {
    return outcome([{ path: 'workflow', message: ensureError(e).message }]);
  }
  // A mock under an id no step calls means the real agent runs: refuse before running it.
  const unused = unusedMocks(workflow, Object.keys(tc.mocks));
  if (unused.length > 0) return outcome(unused);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeoutMs);
  });
  let result: ExecutionResult | 'timeout';
  try {
    result = await Promise.race([engine.run(workflow, { inputs: tc.inputs, send: tc.send }), timedOut]);
  } catch (e) {
    return outcome([{ path: 'run', message: ensureError(e).message }]);
  } finally {
    clearTimeout(timer);
  }
  if (result === 'timeout') {
    await engine.shutdown({ cancel: true, graceMs: 0 }).catch(() => {});
    return outcome([
      {
        path: 'run',
        message: `did not finish within ${timeoutMs} ms of real time: an unmocked agent may be waiting on a real service (mock it)`,
      },
    ]);
  }
  const journal = await engine.journal(result);
  return outcome(checkWorkflowTest(result, journal, tc.expect, mocks), result);
}

/** Compares an execution with what a test expects; an empty list means it passed. */
export function checkWorkflowTest(
  result: ExecutionResult,
  journal: JournalView,
  expect: WorkflowTestExpectation,
  mocks: readonly MockAgent[] = [],
): TestFailure[] {
  const failures: TestFailure[] = [];
  const status = expect.status ?? 'completed';
  if (result.status !== status) {
    failures.push({ path: 'status', message: `expected ${status}, got ${describeOutcome(result)}` });
  }
  if (expect.error !== undefined) checkError('error', result.error, expect.error, failures);
  if (expect.outputs !== undefined) partial('outputs', result.outputs, expect.outputs, failures);
  for (const [id, s] of Object.entries(expect.steps ?? {})) {
    const step = result.steps[id];
    const at = `steps.${id}`;
    if (step === undefined) {
      failures.push({ path: at, message: `no such step (steps: ${Object.keys(result.steps).join(', ')})` });
      continue;
    }
    if (s.status !== undefined && step.status !== s.status) {
      const why = step.error
        ? ` (${step.error.code}: ${step.error.message})`
        : (step.statusReason ?? step.skipReason)
          ? ` (${step.statusReason ?? step.skipReason})`
          : '';
      failures.push({ path: `${at}.status`, message: `expected ${s.status}, got ${step.status}${why}` });
    }
    if (s.attempts !== undefined && step.attempts !== s.attempts)
      failures.push({ path: `${at}.attempts`, message: `expected ${s.attempts}, got ${step.attempts}` });
    if (s.output !== undefined) partial(`${at}.output`, step.output, s.output, failures);
    if (s.error !== undefined) checkError(`${at}.error`, step.error, s.error, failures);
  }
  (expect.journal ?? []).forEach((fact, i) => {
    if (journal.has(fact)) return;
    const n = journal.find(fact).length;
    const types = fact.stepId !== undefined ? journal.types(fact.stepId) : [...new Set(journal.types())];
    failures.push({
      path: `journal[${i}]`,
      message:
        `expected ${fact.count === undefined ? 'at least one ' : ''}${describeFact(fact)}, found ${n}; ` +
        `${fact.stepId !== undefined ? `step ${fact.stepId} journalled` : 'the journal has'}: ${types.join(', ') || 'nothing'}`,
    });
  });
  for (const [id, n] of Object.entries(expect.calls ?? {})) {
    const mock = mocks.find((m) => m.id === id);
    if (!mock) failures.push({ path: `calls["${id}"]`, message: `"${id}" is not mocked in this test` });
    else if (mock.calls.length !== n)
      failures.push({ path: `calls["${id}"]`, message: `expected ${n} call(s), got ${mock.calls.length}` });
  }
  return failures;
}

function describeOutcome(r: ExecutionResult): string {
  const failed = Object.values(r.steps)
    .filter((s) => s.status === 'failed')
    .map((s) => `${s.stepId}: ${s.error?.code ?? '?'} ${s.error?.message ?? ''}`.trim());
  const error = r.error ? ` (${r.error.code}: ${r.error.message})` : '';
  return `${r.status}${error}${failed.length > 0 ? `; failed steps: ${failed.join('; ')}` : ''}`;
}

function partial(path: string, actual: unknown, expected: unknown, failures: TestFailure[]): void {
  const problems = matchPartial(actual, expected, path);
  if (problems.length === 0) return;
  failures.push({ path, message: summarize(problems), diff: diffValues(expected, actual) });
}

function summarize(problems: Mismatch[]): string {
  const shown = problems.slice(0, 3).map((p) => `${p.path}: ${p.message}`);
  return problems.length > 3 ? `${shown.join('; ')}; and ${problems.length - 3} more` : shown.join('; ');
}

function checkError(
  path: string,
  actual: { code: string; message: string } | undefined,
  expected: { code?: string; message?: string },
  failures: TestFailure[],
): void {
  if (actual === undefined) {
    failures.push({ path, message: `expected an error ${short(expected)}, got none` });
    return;
  }
  if (expected.code !== undefined && actual.code !== expected.code)
    failures.push({
      path: `${path}.code`,
      message: `expected ${expected.code}, got ${actual.code} (${actual.message})`,
    });
  if (expected.message !== undefined && !actual.message.includes(expected.message))
    failures.push({
      path: `${path}.message`,
      message: `expected it to contain ${short(expected.message)}, got ${short(actual.message)}`,
    });
}
