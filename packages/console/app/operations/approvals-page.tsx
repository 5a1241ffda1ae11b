import { useState } from 'react';
import { ErrorText, Time } from '../components/common.js';
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
  const decide = async (decision: 'approve' | 'reject') => {
    setError(undefined);
    const r = readForm(fields, values);
    if (decision === 'approve' && !r.ok) return setErrors(r.errors);
    setErrors({});
    try {
      await api.post(`/executions/${enc(a.executionId)}/steps/${enc(a.stepId)}/${decision}`, {
        ...(by ? { by } : {}),
        ...(comment ? { comment } : {}),
        ...(decision === 'approve' && r.ok && fields.length > 0 ? { data: r.inputs } : {}),
      });
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
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
        <button type="button" className="danger" onClick={() => decide('reject')}>
          Reject
        </button>
      </div>
    </form>
  );
}

export function ApprovalsPage() {
  const list = useGet<{ items: Approval[] }>('/approvals', { pollMs: 5000 });
  return (
    <section aria-labelledby="approvals-title">
      <h2 id="approvals-title">Approvals</h2>
      <ErrorText error={list.error} />
      {list.data?.items.length === 0 ? <p className="muted">Nothing waits for a decision.</p> : null}
      {list.data?.items.map((a) => (
        <ApprovalCard key={`${a.executionId}/${a.stepId}`} a={a} onDone={list.reload} />
      ))}
    </section>
  );
}
