import { ErrorText, Json, StatusBadge, Time } from '../components/common.js';
import type { ErrorView, JournalEntryLike, StepView } from '../lib/execution-state.js';
import { filterJournal } from '../lib/execution-state.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { formatMs } from '../lib/timeline.js';

export interface StepRecord {
  status?: string;
  attempts?: number;
  output?: unknown;
  error?: ErrorView;
  startedAt?: number;
  finishedAt?: number;
  statusReason?: string;
  aliasFor?: string;
}

function ErrorDetails({ error }: { error: ErrorView }) {
  return (
    <div data-testid="step-error">
      <p>
        <strong className="mono">{error.code ?? 'ERROR'}</strong> {error.message}
      </p>
      {error.cause ? (
        <div style={{ marginLeft: 12 }}>
          <span className="muted">cause:</span>
          <ErrorDetails error={error.cause} />
        </div>
      ) : null}
    </div>
  );
}

export function StepPanel(props: {
  stepId: string;
  live: StepView | undefined;
  record: StepRecord | undefined;
  entries: readonly JournalEntryLike[];
}) {
  const { stepId, live, record, entries } = props;
  const status = live?.status ?? record?.status ?? 'pending';
  const error = record?.error ?? live?.error;
  const output = record?.output ?? live?.output;
  const mine = filterJournal(entries, { stepId });
  return (
    <aside className="panel" aria-labelledby="step-title" data-testid="step-panel">
      <h3 id="step-title" style={{ marginTop: 0 }}>
        Step <span className="mono">{stepId}</span> <StatusBadge status={status} />
      </h3>
      {live?.fallbackFor ? (
        <p>
          Ran as the fallback of <span className="mono">{live.fallbackFor}</span>.
        </p>
      ) : null}
      {live?.fellBackTo ? (
        <p>
          Failed; its fallback <span className="mono">{live.fellBackTo}</span> ran instead.
        </p>
      ) : null}
      {(record?.statusReason ?? live?.reason) ? (
        <p className="muted">{record?.statusReason ?? live?.reason}</p>
      ) : null}
      {error ? (
        <>
          <h3>Error</h3>
          <ErrorDetails error={error} />
        </>
      ) : null}
      <h3>Attempts</h3>
      {live && live.attempts.length > 0 ? (
        <table aria-label="Attempts">
          <thead>
            <tr>
              <th>#</th>
              <th>Outcome</th>
              <th>Took</th>
              <th>Back-off</th>
            </tr>
          </thead>
          <tbody>
            {live.attempts.map((a) => (
              <tr key={`${a.attempt}-${a.startedAt}`}>
                <td>{a.attempt}</td>
                <td>
                  {a.outcome}
                  {a.error ? (
                    <div className="muted">{`${a.error.code ?? ''} ${a.error.message ?? ''}`}</div>
                  ) : null}
                </td>
                <td>{a.finishedAt !== undefined ? formatMs(a.finishedAt - a.startedAt) : '…'}</td>
                <td>{a.backoff ? formatMs(a.backoff.delayMs) : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">{record?.attempts ? `${record.attempts} attempt(s)` : 'not started'}</p>
      )}
      <p className="muted">
        Started <Time ms={record?.startedAt} />, finished <Time ms={record?.finishedAt} />
      </p>
      {live && live.childExecutionIds.length > 0 ? (
        <>
          <h3>Child executions</h3>
          <ul>
            {live.childExecutionIds.map((c) => (
              <li key={c}>
                <Link href={href.execution(c)} className="mono">
                  {c}
                </Link>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>Input</h3>
      <Json value={live?.input} label="step input" />
      <h3>Output</h3>
      {Array.isArray(output) && live?.attempts && mine.some((e) => e.type === 'step.started') ? (
        <p className="muted">{output.length} item(s)</p>
      ) : null}
      <Json value={output} label="step output" />
      <h3>Journal</h3>
      <ul className="mono" style={{ paddingLeft: 16 }}>
        {mine.map((e) => (
          <li key={e.seq}>
            #{e.seq} {e.type}
            {e.attempt !== undefined ? ` (attempt ${e.attempt})` : ''}
          </li>
        ))}
      </ul>
      <ErrorText error={undefined} />
    </aside>
  );
}
