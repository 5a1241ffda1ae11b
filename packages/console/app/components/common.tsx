import { type ReactNode, useEffect, useId, useRef } from 'react';
import { statusStyle, statusVar } from '../lib/status.js';

export function StatusBadge({ status }: { status: string | undefined }) {
  const s = statusStyle(status);
  return (
    <span className="badge" style={{ background: statusVar(status) }} data-status={status}>
      <span aria-hidden="true">{s.mark}</span>
      {status ?? s.label}
    </span>
  );
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined) return <p className="muted">none</p>;
  return (
    <figure aria-label={label} style={{ margin: 0 }}>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </figure>
  );
}

export function Time({ ms }: { ms: number | undefined }) {
  if (ms === undefined) return <span className="muted">–</span>;
  const d = new Date(ms);
  return <time dateTime={d.toISOString()}>{d.toLocaleString()}</time>;
}

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as { code?: string; message?: string };
  return (
    <p className="error" role="alert">
      {e.code ? `${e.code}: ` : ''}
      {e.message ?? String(error)}
    </p>
  );
}

/**
 * A modal dialog (the browser's <dialog>: focus is trapped in it and Escape closes it).
 * `onConfirm` runs the action; the dialog stays open showing the error when it fails.
 */
export function ConfirmDialog(props: {
  title: string;
  open: boolean;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Its own id: a page holds several dialogs, and each must be announced by its own title.
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onClose={props.onClose} aria-labelledby={titleId}>
      <h3 id={titleId}>{props.title}</h3>
      {props.children}
      <div className="row" style={{ justifyContent: 'flex-end', marginTop: 12 }}>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          className={props.danger ? 'danger' : 'primary'}
          disabled={props.busy}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
