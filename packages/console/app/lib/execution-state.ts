/**
 * The live state of one execution, folded from its journal (the events of
 * `GET /executions/:id/events`). Pure: the same entries give the same state, so a page that
 * reconnects with `Last-Event-ID` and receives only later entries ends where a fresh page would.
 */
import type { StepStatus } from './status.js';

export interface JournalEntryLike {
  seq: number;
  ts: number;
  type: string;
  stepId?: string;
  attempt?: number;
  data?: unknown;
}

export interface ErrorView {
  code?: string;
  message?: string;
  cause?: ErrorView;
  [k: string]: unknown;
}

export interface AttemptView {
  attempt: number;
  startedAt: number;
  finishedAt?: number;
  outcome: 'running' | 'completed' | 'failed' | 'cancelled';
  error?: ErrorView;
  /** The back-off that followed this attempt, when it was retried. */
  backoff?: { startedAt: number; delayMs: number };
}

export interface StepView {
  id: string;
  status: StepStatus;
  attempts: AttemptView[];
  input?: unknown;
  output?: unknown;
  error?: ErrorView;
  reason?: string;
  /** This step ran in place of that one (it is its fallback). */
  fallbackFor?: string;
  /** This step failed and its fallback ran instead. */
  fellBackTo?: string;
  childExecutionIds: string[];
}

export interface LiveState {
  status: string | undefined;
  steps: Record<string, StepView>;
  /** The last journal sequence number applied (the `Last-Event-ID` to resume from). */
  lastSeq: number;
  /** True once a terminal execution event was applied (a retry starts it again). */
  finished: boolean;
  error?: ErrorView;
}

export function emptyState(): LiveState {
  return { status: undefined, steps: {}, lastSeq: 0, finished: false };
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function stepOf(state: LiveState, id: string): StepView {
  const prev = state.steps[id];
  const next: StepView = prev
    ? { ...prev, attempts: [...prev.attempts] }
    : { id, status: 'pending', attempts: [], childExecutionIds: [] };
  state.steps[id] = next;
  return next;
}

/** Closes the step's open attempt (if any) with an outcome. */
function closeAttempt(step: StepView, ts: number, outcome: AttemptView['outcome'], error?: ErrorView): void {
  const i = step.attempts.length - 1;
  const last = step.attempts[i];
  if (last?.outcome !== 'running') return;
  step.attempts[i] = { ...last, finishedAt: ts, outcome, ...(error ? { error } : {}) };
}

function openAttempt(step: StepView, attempt: number, ts: number): void {
  const i = step.attempts.length - 1;
  const last = step.attempts[i];
  if (last && last.attempt === attempt && last.outcome === 'running') return;
  step.attempts.push({ attempt, startedAt: ts, outcome: 'running' });
}

const EXECUTION_STATUS: Record<string, string> = {
  'execution.started': 'running',
  'execution.resumed': 'running',
  'execution.waiting': 'waiting',
  'execution.completed': 'completed',
  'execution.failed': 'failed',
  'execution.cancelled': 'cancelled',
};

/** Applies entries in order; entries at or below `lastSeq` are ignored (a replay after a resume). */
export function applyEntries(prev: LiveState, entries: readonly JournalEntryLike[]): LiveState {
  const state: LiveState = { ...prev, steps: { ...prev.steps } };
  for (const e of entries) {
    if (e.seq <= state.lastSeq) continue;
    state.lastSeq = e.seq;
    const data = asRecord(e.data);
    const execStatus = EXECUTION_STATUS[e.type];
    if (execStatus !== undefined) {
      state.status = execStatus;
      state.finished = execStatus === 'completed' || execStatus === 'failed' || execStatus === 'cancelled';
      if (e.type === 'execution.failed' && data.error) state.error = data.error as ErrorView;
      if (e.type === 'execution.started' || e.type === 'execution.resumed') delete state.error;
      continue;
    }
    if (e.stepId === undefined) continue;
    const step = stepOf(state, e.stepId);
    const attempt = e.attempt ?? Math.max(1, step.attempts.length);
    switch (e.type) {
      case 'step.started':
        step.status = 'running';
        delete step.error;
        delete step.reason;
        if ('input' in data) step.input = data.input;
        if (typeof data.fallbackFor === 'string') step.fallbackFor = data.fallbackFor;
        openAttempt(step, attempt, e.ts);
        break;
      case 'step.attempt':
      case 'step.woken':
        step.status = 'running';
        if (e.type === 'step.attempt') openAttempt(step, attempt, e.ts);
        break;
      case 'step.retrying': {
        step.status = 'retrying';
        const error = data.error as ErrorView | undefined;
        closeAttempt(step, e.ts, 'failed', error);
        const i = step.attempts.length - 1;
        const last = step.attempts[i];
        if (last)
          step.attempts[i] = { ...last, backoff: { startedAt: e.ts, delayMs: Number(data.delayMs) || 0 } };
        break;
      }
      case 'step.waiting':
        step.status = 'waiting';
        break;
      case 'step.completed':
        step.status = 'completed';
        step.output = data.output;
        closeAttempt(step, e.ts, 'completed');
        break;
      case 'step.failed':
        step.status = 'failed';
        step.error = data.error as ErrorView | undefined;
        closeAttempt(step, e.ts, 'failed', step.error);
        break;
      case 'step.fallback':
        if (typeof data.fallbackStepId === 'string') step.fellBackTo = data.fallbackStepId;
        step.error = data.error as ErrorView | undefined;
        closeAttempt(step, e.ts, 'failed', step.error);
        break;
      case 'step.skipped':
        step.status = 'skipped';
        if (typeof data.reason === 'string') step.reason = data.reason;
        break;
      case 'step.cancelled':
        step.status = 'cancelled';
        if (typeof data.reason === 'string') step.reason = data.reason;
        closeAttempt(step, e.ts, 'cancelled');
        break;
      case 'step.child':
        if (
          typeof data.childExecutionId === 'string' &&
          !step.childExecutionIds.includes(data.childExecutionId)
        )
          step.childExecutionIds = [...step.childExecutionIds, data.childExecutionId];
        break;
    }
  }
  return state;
}

/** Journal entries, filtered by step, type prefix and free text (for the journal view). */
export function filterJournal<T extends JournalEntryLike>(
  entries: readonly T[],
  filter: { stepId?: string; type?: string; text?: string },
): T[] {
  const text = filter.text?.trim().toLowerCase();
  return entries.filter(
    (e) =>
      (!filter.stepId || e.stepId === filter.stepId) &&
      (!filter.type || e.type === filter.type || e.type.startsWith(`${filter.type}.`)) &&
      (!text || JSON.stringify(e).toLowerCase().includes(text)),
  );
}
