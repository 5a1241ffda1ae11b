import { useEffect, useRef, useState } from 'react';
import { ConfirmDialog, ErrorText, Time } from '../components/common.js';
import { Pager } from '../components/pager.js';
import { enc } from '../lib/api.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { formFields, initialValue, readForm } from '../lib/schema-form.js';
import { useApi, useGet } from '../lib/use-api.js';

interface Approval {
  executionId: string;
  stepId: string;
  workflowId: string;
  title?: string;
  description?: string;
  form?: unknown;
  approvers?: string[];
  dueAt?: string;
  createdAt: string;
}

function ApprovalCard({ a, onDone }: { a: Approval; onDone: () => void }) {
  const api = useApi();
  const fields = formFields(a.form);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, initialValue(f)])),
  );
  const [by, setBy] = useState('');
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [confirmReject, setConfirmReject] = useState(false);
  const [busy, setBusy] = useState(false);
  const decide = async (decision: 'approve' | 'reject') => {
    setError(undefined);
    const r = readForm(fields, values);
    if (decision === 'approve' && !r.ok) return setErrors(r.errors);
    setErrors({});
    setBusy(true);
    try {
      await api.post(`/executions/${enc(a.executionId)}/steps/${enc(a.stepId)}/${decision}`, {
        ...(by ? { by } : {}),
        ...(comment ? { comment } : {}),
        ...(decision === 'approve' && r.ok && fields.length > 0 ? { data: r.inputs } : {}),
      });
      setConfirmReject(false);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <form
        className="panel"
        style={{ marginBottom: 12 }}
        aria-label={`Approval ${a.title ?? a.stepId}`}
        onSubmit={(e) => e.preventDefault()}
      >
        <h3 style={{ marginTop: 0 }}>{a.title ?? a.stepId}</h3>
        {a.description ? <p>{a.description}</p> : null}
        <p className="muted">
          <Link href={href.execution(a.executionId)}>{a.executionId.slice(0, 8)}</Link> · {a.workflowId} /{' '}
          {a.stepId} · since <Time ms={Date.parse(a.createdAt)} />
          {a.dueAt ? (
            <>
              {' '}
              · due <Time ms={Date.parse(a.dueAt)} />
            </>
          ) : null}
          {a.approvers ? ` · approvers: ${a.approvers.join(', ')}` : ''}
        </p>
        {fields.map((f) => (
          <label className="field" key={f.name}>
            {f.label}
            {f.required ? ' *' : ''}
            <input
              value={values[f.name]}
              onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
            />
            {errors[f.name] ? <span className="field-error">{errors[f.name]}</span> : null}
          </label>
        ))}
        <label className="field">
          By <input value={by} onChange={(e) => setBy(e.target.value)} />
        </label>
        <label className="field">
          Comment <input value={comment} onChange={(e) => setComment(e.target.value)} />
        </label>
        <ErrorText error={error} />
        <div className="row">
          <button type="button" className="primary" onClick={() => decide('approve')}>
            Approve
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => {
              setError(undefined);
              setConfirmReject(true);
            }}
          >
            Reject
          </button>
        </div>
      </form>
      {/* Approving does what the step waits for; rejecting fails it, so it is confirmed first. */}
      <ConfirmDialog
        title={`Reject step ${a.stepId} of execution ${a.executionId.slice(0, 8)}?`}
        open={confirmReject}
        confirmLabel="Reject"
        danger
        busy={busy}
        onClose={() => setConfirmReject(false)}
        onConfirm={() => decide('reject')}
      >
        <p>
          Step <code>{a.stepId}</code> of execution <code>{a.executionId}</code> ({a.workflowId}) fails with
          the error <code>REJECTED</code>, and the execution fails with it unless the workflow handles that
          failure. This cannot be undone.
        </p>
        {by || comment ? (
          <p className="muted">
            {by ? `By ${by}. ` : ''}
            {comment ? `Comment: ${comment}` : ''}
          </p>
        ) : null}
        <ErrorText error={error} />
      </ConfirmDialog>
    </>
  );
}

/**
 * Approvals asked for at once: each is a form with its dialogs, and thousands may wait. The
 * server sends one page (oldest first); each poll reads only that page.
 */
const APPROVALS_PER_PAGE = 50;

/** "approvals 51–100", and whether more wait after them. */
function rangeOf(first: number, shown: number, more: boolean): string {
  return `approvals ${first + 1}–${first + shown}${more ? ' (more waiting)' : ''}`;
}

export function ApprovalsPage() {
  // Cursors of the pages before this one (a stack: Previous pops it), and this page's.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const query = new URLSearchParams({ limit: String(APPROVALS_PER_PAGE), ...(cursor ? { cursor } : {}) });
  const list = useGet<{ items: Approval[]; nextCursor?: string }>(`/approvals?${query}`, { pollMs: 5000 });
  const rows = list.data?.items ?? [];
  const next = list.data?.nextCursor;
  const at = cursors.length;
  // Every approval of a later page decided: back one page rather than an empty one. Looked at
  // with each answer (the data object is new with each), so that the page before, found
  // emptied too, goes back again; the answer kept while the next page loads is not looked at.
  const data = list.data;
  useEffect(() => {
    if (data !== undefined && data.items.length === 0) setCursors((c) => (c.length > 0 ? c.slice(0, -1) : c));
  }, [data]);
  const paged = rows.length > 0 && (at > 0 || next !== undefined);
  const heading = useRef<HTMLHeadingElement>(null);
  // `below`: the pager under the cards, which brings the next page's first card into view.
  const pager = (below: boolean) => (
    <Pager
      at={at}
      pages={next !== undefined ? at + 2 : at + 1}
      onPage={(p) => {
        // While a page loads, `next` is still the cursor after the page before it.
        if (list.loading) return;
        if (p < at) setCursors(cursors.slice(0, p));
        else if (next !== undefined) setCursors([...cursors, next]);
        if (below) heading.current?.scrollIntoView();
      }}
    />
  );
  return (
    <section aria-labelledby="approvals-title">
      <h2 id="approvals-title" ref={heading}>
        Approvals
      </h2>
      <ErrorText error={list.error} />
      {!list.error && list.data?.items.length === 0 && at === 0 ? (
        <p className="muted">Nothing waits for a decision.</p>
      ) : null}
      {paged ? (
        <div className="row" style={{ marginBottom: 8 }}>
          <span className="muted" data-testid="approval-range">
            {rangeOf(at * APPROVALS_PER_PAGE, rows.length, next !== undefined)}
          </span>
          {pager(false)}
        </div>
      ) : null}
      {rows.map((a) => (
        <ApprovalCard key={`${a.executionId}/${a.stepId}`} a={a} onDone={list.reload} />
      ))}
      {/* Again below the cards: fifty forms are more than a screen. */}
      {paged ? <div className="row">{pager(true)}</div> : null}
    </section>
  );
}
