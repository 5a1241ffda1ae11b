/**
 * A page of pending approvals as the HTTP API (GET /approvals) and the MCP tool show them:
 * oldest first, from a cursor, with the cursor of the next page while more are pending.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { decodeCursor, encodeCursor } from './paging.js';
import type { ApprovalsQuery } from './wait-service-api.js';
import type { WaitRecord } from './waits.js';

/** A pending approval: what a person deciding it needs (times as ISO-8601). */
export interface ApprovalView {
  executionId: string;
  stepId: string;
  workflowId: string;
  title: string | undefined;
  description?: string;
  form?: unknown;
  approvers?: string[];
  dueAt?: string;
  createdAt: string;
}

export function approvalView(w: WaitRecord): ApprovalView {
  return {
    executionId: w.executionId,
    stepId: w.stepId,
    workflowId: w.workflowId,
    title: w.approval?.title,
    ...(w.approval?.description !== undefined ? { description: w.approval.description } : {}),
    ...(w.approval?.form !== undefined ? { form: w.approval.form } : {}),
    ...(w.approval?.approvers !== undefined ? { approvers: [...w.approval.approvers] } : {}),
    ...(w.dueAt !== undefined ? { dueAt: new Date(w.dueAt).toISOString() } : {}),
    createdAt: new Date(w.createdAt).toISOString(),
  };
}

/**
 * Up to `limit` pending approvals after `cursor` (a `nextCursor` of the page before; the
 * cursor of GET /executions, base64url of createdAt and id), and `nextCursor` when more are
 * pending. A cursor that is not one of ours: VALIDATION with `details.parameter` 'cursor'
 * (told apart from any other failure, before any read).
 */
export async function approvalPage(
  approvals: (query: ApprovalsQuery) => Promise<WaitRecord[]>,
  limit: number,
  cursor?: string,
): Promise<{ items: ApprovalView[]; nextCursor?: string }> {
  let after: ReturnType<typeof decodeCursor> | undefined;
  try {
    after = cursor === undefined ? undefined : decodeCursor(cursor);
  } catch (e) {
    throw new Orchestr8Error(ErrorCode.VALIDATION, (e as Error).message, {
      retryable: false,
      details: { parameter: 'cursor' },
    });
  }
  // One more than the page: whether there is a next page, without another query.
  const found = await approvals({ limit: limit + 1, ...(after !== undefined ? { after } : {}) });
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(approvalView),
    ...(found.length > limit && last !== undefined ? { nextCursor: encodeCursor(last) } : {}),
  };
}
