/**
 * Approval steps: `decide` (who may, the form data checked against the step's form schema, the
 * first answer to an idempotency key) and the list of pending `approvals`.
 */
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { closest } from '@orchestr8/schema';
import { checkAgainstSchema } from './agent-schema.js';
import { DAY_MS, fingerprintOf, keyReused } from './wait-answers.js';
import type { Decision, DecisionResult, WaitService, WaitServiceOptions } from './wait-service-api.js';
import { type WaitRecord, type WaitStore, waitId } from './waits.js';

/** `decide` and `approvals` of the wait service; a decided step goes to `wakeExecution`. */
export function createWaitApprovals(
  o: WaitServiceOptions,
  waitsOf: () => WaitStore,
  wakeExecution: (w: WaitRecord) => Promise<void>,
): Pick<WaitService, 'decide' | 'approvals'> {
  const store = o.store;
  const clock = o.clock;

  /** A step in one of these can no longer be decided: deciding it is a conflict, not a 404. */
  const FINISHED_STEP: ReadonlySet<string> = new Set(['completed', 'failed', 'skipped', 'cancelled']);

  const decideNow = async (
    executionId: string,
    stepId: string,
    d: Decision,
    remember: (r: DecisionResult) => Promise<void>,
  ): Promise<DecisionResult> => {
    const ws = waitsOf();
    const w = await ws.getWait(waitId(executionId, stepId));
    if (w === undefined || w.kind !== 'approval') {
      // A step that has finished (decided, timed out, cancelled) is a conflict, not a missing
      // step: a client retrying a decision learns how it ended.
      const step =
        w === undefined ? (await store.getSteps(executionId)).find((s) => s.stepId === stepId) : undefined;
      if (step !== undefined && FINISHED_STEP.has(step.status))
        throw new Orchestr8Error(
          ErrorCode.CONFLICT,
          `step "${stepId}" of execution "${executionId}" no longer waits for a decision: it is ${step.status}${
            step.error?.code !== undefined ? ` (${step.error.code})` : ''
          }`,
          { retryable: false, details: { status: step.status } },
        );
      // Which of its steps do wait: a mistyped step id is named with the right one.
      const waiting = (await ws.listWaits({ executionId, kind: 'approval', state: 'pending' })).map(
        (x) => x.stepId,
      );
      const guess = closest(stepId, waiting);
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `step "${stepId}" of execution "${executionId}" is not waiting for a decision (${
          waiting.length === 0
            ? 'none of its steps is'
            : `${guess !== undefined ? `did you mean "${guess}"? ` : ''}waiting: ${waiting.join(', ')}`
        })`,
        { retryable: false, details: { waiting } },
      );
    }
    if (w.state !== 'pending')
      throw new Orchestr8Error(ErrorCode.CONFLICT, `step "${stepId}" was already decided`, {
        retryable: false,
      });
    const approvers = w.approval?.approvers;
    if (approvers !== undefined && (d.by === undefined || !approvers.includes(d.by)))
      throw new Orchestr8Error(
        ErrorCode.CAPABILITY_DENIED,
        `${d.by === undefined ? 'an anonymous decision (no "by" names who decides)' : `"${d.by}"`} may not decide step "${stepId}" (approvers: ${approvers.join(', ')})`,
        { retryable: false, details: { approvers } },
      );
    const data = d.data ?? {};
    if (d.decision === 'approve' && w.approval?.form !== undefined) {
      try {
        checkAgainstSchema(w.approval.form, data, 'the form data');
      } catch (e) {
        // "... invalid at /amount must be number": the pointer names the field.
        const m = /invalid at (\S*) (.*)$/.exec((e as Error).message);
        const at = m?.[1] === '/' ? '' : (m?.[1] ?? '');
        throw new ValidationError(
          `the form data is invalid: ${m ? `${at || '/'} ${m[2]}` : (e as Error).message}`,
          {
            details: [
              { code: 'E_FORM', severity: 'error', pointer: `/data${at}`, message: m?.[2] ?? 'is invalid' },
            ],
          },
        );
      }
    }
    const next: WaitRecord = {
      ...w,
      state: 'woken',
      version: w.version + 1,
      outcome: { kind: d.decision === 'approve' ? 'approved' : 'rejected', at: clock.now(), data },
    };
    if (d.by !== undefined) next.outcome!.by = d.by;
    if (d.comment !== undefined) next.outcome!.comment = d.comment;
    if (!(await ws.claimWait(w.id, w.version, next)))
      throw new Orchestr8Error(ErrorCode.CONFLICT, `step "${stepId}" was already decided`, {
        retryable: false,
      });
    const result: DecisionResult = {
      executionId,
      stepId,
      decision: d.decision === 'approve' ? 'approved' : 'rejected',
      ...(d.by !== undefined ? { by: d.by } : {}),
      decidedAt: new Date(next.outcome!.at).toISOString(),
    };
    await remember(result);
    await wakeExecution(next);
    return result;
  };

  const decisions: Pick<WaitService, 'decide' | 'approvals'> = {
    async decide(executionId, stepId, d) {
      const ws = waitsOf();
      const key =
        d.idempotencyKey === undefined
          ? undefined
          : `decide:${waitId(executionId, stepId)}:${d.idempotencyKey}`;
      const fingerprint = fingerprintOf([d.decision, d.by ?? null, d.data ?? null, d.comment ?? null]);
      const firstAnswer = async (): Promise<DecisionResult | undefined> => {
        if (key === undefined || ws.getAnswer === undefined) return undefined;
        const first = await ws.getAnswer(key, clock.now());
        if (first === undefined) return undefined;
        if (first.fingerprint !== fingerprint) throw keyReused(d.idempotencyKey!);
        return first.answer as DecisionResult;
      };
      const earlier = await firstAnswer();
      if (earlier !== undefined) return earlier;
      let result: DecisionResult;
      try {
        result = await decideNow(executionId, stepId, d, async (r) => {
          // Remembered before the execution wakes: a repeat from now on gets this answer.
          if (key === undefined || ws.putAnswer === undefined) return;
          const now = clock.now();
          const expiresAt = now + (d.idempotencyTtlMs ?? DAY_MS);
          await ws.putAnswer(key, { fingerprint, answer: r, expiresAt }, now);
        });
      } catch (e) {
        // A concurrent repeat may have decided first: its answer is this one's.
        const raced = key !== undefined && (e as Orchestr8Error).code === ErrorCode.CONFLICT;
        const first = raced ? await firstAnswer() : undefined;
        if (first !== undefined) return first;
        throw e;
      }
      return result;
    },

    async approvals(q = {}) {
      return waitsOf().listWaits({
        kind: 'approval',
        state: 'pending',
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
    },
  };
  return decisions;
}
