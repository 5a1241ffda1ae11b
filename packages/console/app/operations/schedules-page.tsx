import { useEffect, useRef, useState } from 'react';
import { ErrorText, StatusBadge, Time } from '../components/common.js';
import { Pager, rangeText, usePages } from '../components/pager.js';
import { enc } from '../lib/api.js';
import { emptyFilters, filtersToQuery } from '../lib/filters.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { matchesTrigger } from '../lib/trigger-filter.js';
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
  // The page acted on this trigger (Trigger now): look again at once rather than at the next
  // poll. Only on a change: a row that mounts (paging, filtering) has just looked.
  const seen = useRef(refresh);
  useEffect(() => {
    if (refresh === seen.current) return;
    seen.current = refresh;
    reload();
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

/**
 * Triggers shown at once. Each row looks up its last execution every 5 s, so a deployment
 * with a thousand schedules must not have them all on screen: that was a thousand requests
 * per poll from one browser tab, past the server's default rate limit for a remote client.
 */
const TRIGGERS_PER_PAGE = 50;

const keyOf = (t: TriggerInfo) => `${t.workflowId}/${t.name}`;

export function SchedulesPage() {
  const list = useGet<{ items: TriggerInfo[] }>('/triggers', { pollMs: 5000 });
  const api = useApi();
  const [error, setError] = useState<unknown>();
  // How many times the page acted on each trigger: only that row looks again at once.
  const [acted, setActed] = useState<ReadonlyMap<string, number>>(new Map());
  const [filter, setFilter] = useState('');
  const matching = (list.data?.items ?? []).filter((t) => matchesTrigger(t, filter));
  const { rows, at, first, pages, setPage } = usePages(matching, TRIGGERS_PER_PAGE);
  const act = async (t: TriggerInfo, op: 'pause' | 'resume' | 'run') => {
    setError(undefined);
    try {
      await api.post(`/triggers/${enc(t.workflowId)}/${enc(t.name)}/${op}`, {});
      list.reload();
      setActed((m) => new Map(m).set(keyOf(t), (m.get(keyOf(t)) ?? 0) + 1));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules and triggers</h2>
      <ErrorText error={list.error ?? error} />
      <div className="row" style={{ marginBottom: 8 }}>
        <label>
          Filter{' '}
          <input
            type="search"
            aria-label="Filter triggers"
            value={filter}
            onChange={(e) => {
              setFilter(e.target.value);
              setPage(0);
            }}
            placeholder="workflow, trigger, kind, cron or event"
            size={38}
          />
        </label>
        {list.data && list.data.items.length > 0 ? (
          <span className="muted" data-testid="trigger-range">
            {rangeText('trigger', first, rows.length, matching.length, list.data.items.length)}
          </span>
        ) : null}
        <Pager at={at} pages={pages} onPage={setPage} />
      </div>
      <div style={{ overflowX: 'auto' }}>
        <table aria-label="Triggers" className="triggers">
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
            {rows.map((t) => (
              <tr key={keyOf(t)}>
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
                  <LastStarted t={t} refresh={acted.get(keyOf(t)) ?? 0} />
                </td>
                <td>
                  {t.paused ? 'paused' : 'active'} · {t.running} running, {t.queued} queued
                </td>
                <td>
                  <div className="row">
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
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.error && list.data?.items.length === 0 ? (
        <p className="muted">No triggers: add `triggers` to a registered workflow.</p>
      ) : null}
      {!list.error && (list.data?.items.length ?? 0) > 0 && matching.length === 0 ? (
        <p className="muted">No trigger matches the filter.</p>
      ) : null}
      <p className="muted" data-testid="handled-up-to">
        <strong>Handled up to</strong>: {HANDLED_UP_TO} <strong>Last execution</strong> is the newest
        execution the trigger started, Trigger now included.
      </p>
    </section>
  );
}
