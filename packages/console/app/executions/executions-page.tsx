import { useEffect, useMemo, useState } from 'react';
import { ErrorText, StatusBadge, Time } from '../components/common.js';
import { authHeaders, localKeyStore } from '../lib/api.js';
import {
  apiQuery,
  EXECUTION_STATUSES,
  type ExecutionFilters,
  filtersFromQuery,
  filtersToQuery,
  looksLikeExecutionId,
  matchesLocally,
  pastWindow,
  TIME_WINDOWS,
} from '../lib/filters.js';
import { followAllEvents } from '../lib/live-list.js';
import { Link, navigate, useLocation } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { useGet } from '../lib/use-api.js';

interface Summary {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  status: string;
  statusReason?: string;
  correlationId?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: { code?: string; message?: string };
}

const PAGE = 50;

export function ExecutionsPage() {
  const { search } = useLocation();
  const filters = useMemo(() => filtersFromQuery(search), [search]);
  const [draft, setDraft] = useState<ExecutionFilters>(filters);
  useEffect(() => setDraft(filters), [filters]);
  // Cursors of the pages before this one (a stack), and this page's.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  // The window's start is fixed when the filters change, so paging through it is stable.
  // biome-ignore lint/correctness/useExhaustiveDependencies: recomputed when the filters change
  const since = useMemo(() => Date.now(), [search]);
  const path = `/executions?${apiQuery(filters, { limit: PAGE, now: since, ...(cursor ? { cursor } : {}) })}`;
  const list = useGet<{ items: Summary[]; nextCursor?: string }>(path);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter starts at the first page
  useEffect(() => setCursors([]), [search]);
  // Filtered by workflow, only that workflow's events (the server filters): a busy engine's
  // other workflows need not cross the network to be dropped here.
  const workflow = filters.workflow.trim();
  useEffect(
    () =>
      followAllEvents({
        open: (lastEventId, signal) =>
          fetch(workflow ? `/events?workflowId=${encodeURIComponent(workflow)}` : '/events', {
            signal,
            headers: {
              accept: 'text/event-stream',
              ...authHeaders(localKeyStore(window.localStorage)),
              ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
            },
          }),
        onChange: list.reload,
      }),
    [list.reload, workflow],
  );
  const now = Date.now();
  const items = (list.data?.items ?? []).filter((i) => matchesLocally(i, filters, now));
  const more = list.data?.nextCursor !== undefined && !pastWindow(list.data.items, filters, now);
  const apply = (f: ExecutionFilters) => {
    if (looksLikeExecutionId(f.search)) {
      navigate(href.execution(f.search.trim()));
      return;
    }
    navigate(href.executions(filtersToQuery(f)));
  };
  return (
    <section aria-labelledby="executions-title">
      <h2 id="executions-title">Executions</h2>
      <form
        className="row"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <fieldset className="row" style={{ border: 'none', padding: 0, margin: 0 }}>
          <legend className="skip">Status</legend>
          {EXECUTION_STATUSES.map((s) => (
            <label key={s} className="row" style={{ gap: 2 }}>
              <input
                type="checkbox"
                name="status"
                value={s}
                checked={draft.status.includes(s)}
                onChange={(e) =>
                  setDraft({
                    ...draft,
                    status: e.target.checked ? [...draft.status, s] : draft.status.filter((x) => x !== s),
                  })
                }
              />
              {s}
            </label>
          ))}
        </fieldset>
        <label>
          Workflow{' '}
          <input
            name="workflow"
            value={draft.workflow}
            onChange={(e) => setDraft({ ...draft, workflow: e.target.value })}
            size={14}
          />
        </label>
        <label>
          Trigger{' '}
          <input
            name="trigger"
            value={draft.trigger}
            onChange={(e) => setDraft({ ...draft, trigger: e.target.value })}
            size={10}
          />
        </label>
        <label>
          Created{' '}
          <select
            name="since"
            value={draft.since}
            onChange={(e) => setDraft({ ...draft, since: e.target.value })}
          >
            <option value="">any time</option>
            {Object.keys(TIME_WINDOWS).map((w) => (
              <option key={w} value={w}>
                last {w}
              </option>
            ))}
          </select>
        </label>
        <label>
          Id{' '}
          <input
            name="q"
            type="search"
            value={draft.search}
            onChange={(e) => setDraft({ ...draft, search: e.target.value })}
            placeholder="execution id"
            size={20}
          />
        </label>
        <button type="submit" className="primary">
          Apply
        </button>
      </form>
      <ErrorText error={list.error} />
      <table aria-label="Executions">
        <thead>
          <tr>
            <th>Execution</th>
            <th>Workflow</th>
            <th>Status</th>
            <th>Trigger</th>
            <th>Created</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.executionId} data-execution={e.executionId}>
              <td className="mono">
                <Link href={href.execution(e.executionId)}>{e.executionId.slice(0, 8)}</Link>
              </td>
              <td>
                {e.workflowId}
                <span className="muted">@{e.workflowVersion}</span>
              </td>
              <td>
                <StatusBadge status={e.status} />
              </td>
              <td className="mono">{e.correlationId ?? ''}</td>
              <td>
                <Time ms={e.createdAt} />
              </td>
              <td>{e.startedAt && e.finishedAt ? `${e.finishedAt - e.startedAt} ms` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {/* Without an answer from the server, nothing is known to match or not. */}
      {!list.loading && !list.error && items.length === 0 ? (
        <p className="muted">No executions match.</p>
      ) : null}
      <div className="row" style={{ marginTop: 8 }}>
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!more}
          onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}
        >
          Older
        </button>
      </div>
    </section>
  );
}
