import { useEffect, useState } from 'react';
import { ErrorText, StatusBadge, Time } from '../components/common.js';
import { enc } from '../lib/api.js';
import { emptyFilters, filtersToQuery } from '../lib/filters.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { useApi, useGet } from '../lib/use-api.js';

interface TriggerInfo {
  workflowId: string;
  workflowVersion: string;
  name: string;
  kind: string;
  paused: boolean;
  schedule?: { cron?: string; everyMs?: number; timezone: string };
  nextFireAt?: number;
  lastFireAt?: number;
  event?: string;
  running: number;
  queued: number;
}

/**
 * `lastFireAt` is the scheduler's catch-up mark, not the time of the last execution: it moves
 * when the trigger is activated or resumed, and Trigger now leaves it alone.
 */
const HANDLED_UP_TO =
  'The scheduler has dealt with every occurrence up to this time: fired it, or passed it over ' +
  '(while paused, or by the catch-up and overlap policies). Activating or resuming the trigger ' +
  'moves it to the present; Trigger now does not move it.';

interface Summary {
  executionId: string;
  status: string;
  createdAt: number;
}

/** The newest execution the trigger started (its correlation id names it), and a link to all of them. */
function LastStarted({ t, refresh }: { t: TriggerInfo; refresh: number }) {
  const q = new URLSearchParams({ workflowId: t.workflowId, trigger: t.name, limit: '1' });
  const last = useGet<{ items: Summary[] }>(`/executions?${q}`, { pollMs: 5000 });
  const { reload } = last;
  // The page acted on the trigger (Trigger now): look again at once rather than at the next poll.
  useEffect(() => {
    if (refresh > 0) reload();
  }, [refresh, reload]);
  const e = last.data?.items[0];
  const all = href.executions(filtersToQuery({ ...emptyFilters(), workflow: t.workflowId, trigger: t.name }));
  if (last.error) return <span className="muted">–</span>;
  if (!e) return last.data ? <span className="muted">none yet</span> : null;
  return (
    <span data-testid="last-started">
      <Link href={href.execution(e.executionId)}>
        <span className="mono">{e.executionId.slice(0, 8)}</span>
      </Link>{' '}
      <StatusBadge status={e.status} /> <Time ms={e.createdAt} />
      <div>
        <Link href={all}>all its executions</Link>
      </div>
    </span>
  );
}

export function SchedulesPage() {
  const list = useGet<{ items: TriggerInfo[] }>('/triggers', { pollMs: 5000 });
  const api = useApi();
  const [error, setError] = useState<unknown>();
  const [refresh, setRefresh] = useState(0);
  const act = async (t: TriggerInfo, op: 'pause' | 'resume' | 'run') => {
    setError(undefined);
    try {
      await api.post(`/triggers/${enc(t.workflowId)}/${enc(t.name)}/${op}`, {});
      list.reload();
      setRefresh((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules and triggers</h2>
      <ErrorText error={list.error ?? error} />
      <table aria-label="Triggers">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Trigger</th>
            <th>Kind</th>
            <th>Next fire</th>
            <th>
              <span title={HANDLED_UP_TO}>Handled up to</span>
            </th>
            <th>Last execution</th>
            <th>State</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((t) => (
            <tr key={`${t.workflowId}/${t.name}`}>
              <td>{t.workflowId}</td>
              <td className="mono">{t.name}</td>
              <td>
                {t.kind}
                {t.schedule?.cron ? <div className="muted mono">{t.schedule.cron}</div> : null}
                {t.event ? <div className="muted mono">{t.event}</div> : null}
              </td>
              <td>{t.paused ? <span className="muted">paused</span> : <Time ms={t.nextFireAt} />}</td>
              <td>
                <Time ms={t.lastFireAt} />
              </td>
              <td>
                <LastStarted t={t} refresh={refresh} />
              </td>
              <td>
                {t.paused ? 'paused' : 'active'} · {t.running} running, {t.queued} queued
              </td>
              <td className="row">
                {t.paused ? (
                  <button type="button" onClick={() => act(t, 'resume')}>
                    Resume
                  </button>
                ) : (
                  <button type="button" onClick={() => act(t, 'pause')}>
                    Pause
                  </button>
                )}
                <button type="button" onClick={() => act(t, 'run')}>
                  Trigger now
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.error && list.data?.items.length === 0 ? (
        <p className="muted">No triggers: add `triggers` to a registered workflow.</p>
      ) : null}
      <p className="muted" data-testid="handled-up-to">
        <strong>Handled up to</strong>: {HANDLED_UP_TO} <strong>Last execution</strong> is the newest
        execution the trigger started, Trigger now included.
      </p>
    </section>
  );
}
