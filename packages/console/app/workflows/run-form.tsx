import { useMemo, useRef, useState } from 'react';
import { ErrorText } from '../components/common.js';
import { ApiError } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { formFields, initialValue, readForm } from '../lib/schema-form.js';
import { useApi } from '../lib/use-api.js';

/** The run form of a workflow version, generated from its `inputs` JSON Schema. */
export function RunForm({
  workflowId,
  version,
  inputsSchema,
}: {
  workflowId: string;
  version: string;
  inputsSchema: unknown;
}) {
  const api = useApi();
  const fields = useMemo(() => formFields(inputsSchema), [inputsSchema]);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, initialValue(f)])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  // One Idempotency-Key per request body: Run clicked again after an answer was lost (a
  // TIMEOUT) gets the execution the first click started, not a second one.
  const sent = useRef<{ key: string; body: string }>(undefined);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setError(undefined);
    const r = readForm(fields, values);
    if (!r.ok) {
      setErrors(r.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const body = { workflowId, version, inputs: r.inputs };
      const text = JSON.stringify(body);
      if (sent.current?.body !== text) sent.current = { key: idempotencyKey(), body: text };
      const res = await api.post<{ executionId: string }>('/workflows/execute', body, {
        'idempotency-key': sent.current.key,
      });
      navigate(href.execution(res.executionId));
    } catch (e) {
      // The server checks the whole schema: its diagnostics name the field (a JSON pointer).
      const found: Record<string, string> = {};
      const diags =
        e instanceof ApiError
          ? (e.problem?.errors as { pointer?: string; message?: string }[] | undefined)
          : undefined;
      for (const d of diags ?? []) {
        const name = d.pointer?.replace(/^\/(inputs\/)?/, '').split('/')[0];
        if (name && fields.some((f) => f.name === name)) found[name] = d.message ?? 'is not valid';
      }
      setErrors(found);
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      aria-label="Run form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {fields.length === 0 ? <p className="muted">This workflow takes no inputs.</p> : null}
      {fields.map((f) => {
        const id = `input-${f.name}`;
        const err = errors[f.name];
        const common = {
          id,
          name: f.name,
          'aria-invalid': err ? true : undefined,
          'aria-describedby': err ? `${id}-error` : undefined,
        };
        return (
          <div className="field" key={f.name}>
            <label htmlFor={id}>
              {f.label}
              {f.required ? ' *' : ''}
            </label>
            {f.description ? <span className="muted">{f.description}</span> : null}
            {f.kind === 'boolean' ? (
              <input
                {...common}
                type="checkbox"
                checked={values[f.name] === 'true'}
                onChange={(e) => setValues({ ...values, [f.name]: String(e.target.checked) })}
              />
            ) : f.kind === 'select' ? (
              <select
                {...common}
                value={values[f.name]}
                onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
              >
                <option value="">–</option>
                {f.options?.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            ) : f.kind === 'json' ? (
              <textarea
                {...common}
                rows={4}
                value={values[f.name]}
                onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
              />
            ) : (
              <input
                {...common}
                inputMode={f.kind === 'text' ? undefined : 'decimal'}
                value={values[f.name]}
                onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
              />
            )}
            {err ? (
              <span id={`${id}-error`} className="field-error" role="alert">
                {f.label} {err}
              </span>
            ) : null}
          </div>
        );
      })}
      <ErrorText error={error} />
      <button type="submit" className="primary" disabled={busy}>
        Run
      </button>
    </form>
  );
}

/** A random key (crypto.randomUUID needs a secure context: a console on plain http has none). */
function idempotencyKey(): string {
  return (
    globalThis.crypto?.randomUUID?.() ??
    `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  );
}
