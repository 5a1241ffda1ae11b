import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { JournalFact } from './journal-view.js';
import { type MockOutcome, outcomeProblems } from './mock-agent.js';
import { type SendAction, sendProblems } from './send-actions.js';

/** What a test expects of the execution; every field is optional. */
export interface WorkflowTestExpectation {
  /** The execution status. Default: `completed`. */
  status?: 'completed' | 'failed' | 'cancelled';
  /** A deep partial match of the workflow's outputs. */
  outputs?: unknown;
  /** The execution's error: its code, and a substring of its message. */
  error?: { code?: string; message?: string };
  steps?: Record<string, StepExpectationSpec>;
  journal?: JournalFact[];
  /** How many times each mocked agent was called. */
  calls?: Record<string, number>;
}

export interface StepExpectationSpec {
  status?: string;
  attempts?: number;
  /** A deep partial match of the step's output. */
  output?: unknown;
  error?: { code?: string; message?: string };
}

/** One test case, ready to run. */
export interface WorkflowTestCase {
  name: string;
  /** The test file it comes from. */
  file: string;
  /** An absolute path to the workflow document, or the document itself (written inline). */
  workflow: string | Record<string, unknown>;
  inputs: Record<string, unknown>;
  mocks: Record<string, MockOutcome[]>;
  /** What to send the execution while it waits (events, signals, decisions, clock advances). */
  send: SendAction[];
  expect: WorkflowTestExpectation;
}

export interface WorkflowTestFile {
  file: string;
  cases: WorkflowTestCase[];
  /** Why the file cannot be run; empty when it is fine. */
  problems: string[];
}

const FILE_KEYS = ['name', 'workflow', 'inputs', 'mocks', 'send', 'expect', 'tests'];
const CASE_KEYS = ['name', 'workflow', 'inputs', 'mocks', 'send', 'expect'];
const EXPECT_KEYS = ['status', 'outputs', 'error', 'steps', 'journal', 'calls'];
const STEP_KEYS = ['status', 'attempts', 'output', 'error'];
const FACT_KEYS = ['type', 'stepId', 'attempt', 'data', 'count'];
const STATUSES = ['completed', 'failed', 'cancelled'];
const STEP_STATUSES = ['pending', 'running', 'retrying', 'completed', 'failed', 'skipped', 'cancelled'];

/**
 * Reads a `*.test.yaml` (or `.json`) file:
 *
 * ```yaml
 * workflow: ./hello.yaml          # relative to this file, or a document written inline
 * inputs: { name: Ada }
 * mocks:
 *   "@acme/fetch": [{ fail: RETRYABLE }, { result: { ok: true } }]
 * send:                           # while it waits, in order (each once its target waits)
 *   - event: { name: paid, payload: { orderId: A1 } }
 *   - approve: { step: refund, by: ann, data: { amount: 12 } }
 * expect:
 *   status: completed
 *   outputs: { greeting: "Hello, Ada" }
 *   steps: { fetch: { status: completed, attempts: 2 } }
 *   journal: [{ type: step.retrying, stepId: fetch, count: 1 }]
 * ```
 *
 * With `tests: [{name, inputs, mocks, send, expect}, ...]`, one file holds several cases;
 * the top-level `workflow`, `inputs`, `mocks`, `send` and `expect` are their defaults (a
 * case's own `send` replaces the top-level one).
 */
export async function loadWorkflowTestFile(file: string): Promise<WorkflowTestFile> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { file, cases: [], problems: [`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`] };
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    return {
      file,
      cases: [],
      problems: [`${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`],
    };
  }
  return parseWorkflowTestDocument(doc, file);
}

/** Checks and expands a parsed test document; `file` locates relative workflow paths. */
export function parseWorkflowTestDocument(doc: unknown, file: string): WorkflowTestFile {
  const problems: string[] = [];
  if (!isObject(doc)) return { file, cases: [], problems: ['a test file must hold an object'] };
  unknownKeys(doc, FILE_KEYS, '', problems);
  const dir = dirname(resolve(file));
  const fallbackName = basename(file).replace(/\.test\.(ya?ml|json)$/i, '');
  const shared = readCase(doc, '', dir, problems);
  const cases: WorkflowTestCase[] = [];
  if (doc.tests !== undefined) {
    if (!Array.isArray(doc.tests) || doc.tests.length === 0)
      problems.push('tests must be a non-empty list of cases');
    else
      doc.tests.forEach((t, i) => {
        const where = `tests[${i}]`;
        if (!isObject(t)) {
          problems.push(`${where} must be an object`);
          return;
        }
        unknownKeys(t, CASE_KEYS, where, problems);
        const own = readCase(t, where, dir, problems);
        const workflow = own.workflow ?? shared.workflow;
        if (workflow === undefined) problems.push(`${where}: no workflow (set workflow here or at the top)`);
        cases.push({
          name: own.name ?? `${fallbackName} #${i + 1}`,
          file,
          workflow: workflow ?? '',
          inputs: { ...shared.inputs, ...own.inputs },
          mocks: { ...shared.mocks, ...own.mocks },
          send: own.send ?? shared.send ?? [],
          expect: { ...shared.expect, ...own.expect },
        });
      });
  } else {
    if (shared.workflow === undefined)
      problems.push('workflow is required: a path (relative to this file) or a document');
    cases.push({
      name: shared.name ?? fallbackName,
      file,
      workflow: shared.workflow ?? '',
      inputs: shared.inputs ?? {},
      mocks: shared.mocks ?? {},
      send: shared.send ?? [],
      expect: shared.expect ?? {},
    });
  }
  return { file, cases: problems.length > 0 ? [] : cases, problems };
}

interface PartialCase {
  name?: string;
  workflow?: string | Record<string, unknown>;
  inputs?: Record<string, unknown>;
  mocks?: Record<string, MockOutcome[]>;
  send?: SendAction[];
  expect?: WorkflowTestExpectation;
}

function readCase(o: Record<string, unknown>, where: string, dir: string, problems: string[]): PartialCase {
  const at = (k: string) => (where ? `${where}.${k}` : k);
  const out: PartialCase = {};
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name === '') problems.push(`${at('name')} must be a string`);
    else out.name = o.name;
  }
  if (o.workflow !== undefined) {
    if (typeof o.workflow === 'string' && o.workflow !== '') out.workflow = resolve(dir, o.workflow);
    else if (isObject(o.workflow)) out.workflow = o.workflow;
    else problems.push(`${at('workflow')} must be a path or a workflow document`);
  }
  if (o.inputs !== undefined) {
    if (!isObject(o.inputs)) problems.push(`${at('inputs')} must be an object`);
    else out.inputs = o.inputs;
  }
  if (o.mocks !== undefined) {
    if (!isObject(o.mocks)) problems.push(`${at('mocks')} must map agent ids to outcomes`);
    else {
      out.mocks = {};
      for (const [id, b] of Object.entries(o.mocks)) {
        const list = Array.isArray(b) ? b : [b];
        const w = `${at('mocks')}["${id}"]`;
        if (list.length === 0) problems.push(`${w} needs at least one outcome`);
        list.forEach((x, i) => {
          problems.push(...outcomeProblems(x, Array.isArray(b) ? `${w}[${i}]` : w));
        });
        out.mocks[id] = list as MockOutcome[];
      }
    }
  }
  if (o.send !== undefined) {
    const found = sendProblems(o.send, at('send'));
    problems.push(...found);
    if (found.length === 0) out.send = o.send as SendAction[];
  }
  if (o.expect !== undefined) out.expect = readExpect(o.expect, at('expect'), problems);
  return out;
}

function readExpect(e: unknown, where: string, problems: string[]): WorkflowTestExpectation {
  if (!isObject(e)) {
    problems.push(`${where} must be an object`);
    return {};
  }
  unknownKeys(e, EXPECT_KEYS, where, problems);
  if (e.status !== undefined && !STATUSES.includes(e.status as string))
    problems.push(`${where}.status must be one of ${STATUSES.join(', ')}`);
  if (e.error !== undefined) checkError(e.error, `${where}.error`, problems);
  if (e.steps !== undefined) {
    if (!isObject(e.steps)) problems.push(`${where}.steps must map step ids to expectations`);
    else
      for (const [id, s] of Object.entries(e.steps)) {
        const w = `${where}.steps.${id}`;
        if (!isObject(s)) {
          problems.push(`${w} must be an object`);
          continue;
        }
        unknownKeys(s, STEP_KEYS, w, problems);
        if (s.status !== undefined && !STEP_STATUSES.includes(s.status as string))
          problems.push(`${w}.status must be one of ${STEP_STATUSES.join(', ')}`);
        if (s.attempts !== undefined && !(Number.isInteger(s.attempts) && (s.attempts as number) >= 0))
          problems.push(`${w}.attempts must be a whole number`);
        if (s.error !== undefined) checkError(s.error, `${w}.error`, problems);
      }
  }
  if (e.journal !== undefined) {
    if (!Array.isArray(e.journal))
      problems.push(`${where}.journal must be a list of facts like {type, stepId, count}`);
    else
      e.journal.forEach((f, i) => {
        const w = `${where}.journal[${i}]`;
        if (!isObject(f) || typeof f.type !== 'string') {
          problems.push(`${w} must be an object with a type, e.g. {type: step.retrying, stepId: x}`);
          return;
        }
        unknownKeys(f, FACT_KEYS, w, problems);
        if (f.count !== undefined && !(Number.isInteger(f.count) && (f.count as number) >= 0))
          problems.push(`${w}.count must be a whole number`);
      });
  }
  if (e.calls !== undefined) {
    if (!isObject(e.calls) || Object.values(e.calls).some((n) => !Number.isInteger(n)))
      problems.push(`${where}.calls must map mocked agent ids to call counts`);
  }
  return e as WorkflowTestExpectation;
}

function checkError(e: unknown, where: string, problems: string[]): void {
  if (!isObject(e)) problems.push(`${where} must be an object like {code: TIMEOUT}`);
  else unknownKeys(e, ['code', 'message'], where, problems);
}

function unknownKeys(o: Record<string, unknown>, allowed: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      problems.push(`${where ? `${where}: ` : ''}unknown field "${k}" (expected ${allowed.join(', ')})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
