/**
 * The executions list's filters: kept in the page's URL (so a filtered view can be shared and
 * survives a reload) and turned into the API's query. Status, workflow and trigger are
 * filtered by the server; a time window and an id search are filtered on the page.
 */
export interface ExecutionFilters {
  status: string[];
  workflow: string;
  trigger: string;
  /** Only executions created within this window (e.g. "1h", "24h", "7d"), or "" for any time. */
  since: string;
  /** An execution id, or its beginning. */
  search: string;
}

export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'waiting',
  'completed',
  'failed',
  'cancelled',
] as const;
export const TIME_WINDOWS: Readonly<Record<string, number>> = {
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
};

export function emptyFilters(): ExecutionFilters {
  return { status: [], workflow: '', trigger: '', since: '', search: '' };
}

export function filtersFromQuery(query: string): ExecutionFilters {
  const q = new URLSearchParams(query);
  const statuses = (q.get('status') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is (typeof EXECUTION_STATUSES)[number] =>
      (EXECUTION_STATUSES as readonly string[]).includes(s),
    );
  const since = q.get('since') ?? '';
  return {
    status: [...new Set(statuses)],
    workflow: q.get('workflow') ?? '',
    trigger: q.get('trigger') ?? '',
    since: since in TIME_WINDOWS ? since : '',
    search: q.get('q') ?? '',
  };
}

export function filtersToQuery(f: ExecutionFilters): string {
  const q = new URLSearchParams();
  if (f.status.length > 0) q.set('status', f.status.join(','));
  if (f.workflow) q.set('workflow', f.workflow);
  if (f.trigger) q.set('trigger', f.trigger);
  if (f.since) q.set('since', f.since);
  if (f.search) q.set('q', f.search);
  return q.toString();
}

/**
 * The `GET /executions` query for a page of results: the server filters (and pages) by all of
 * them, so paging stays fast however many executions the store holds.
 */
export function apiQuery(
  f: ExecutionFilters,
  options: { limit: number; cursor?: string; now: number },
): string {
  const q = new URLSearchParams();
  if (f.status.length > 0) q.set('status', f.status.join(','));
  if (f.workflow.trim()) q.set('workflowId', f.workflow.trim());
  if (f.trigger.trim()) q.set('trigger', f.trigger.trim());
  const window = TIME_WINDOWS[f.since];
  if (window !== undefined) q.set('since', String(options.now - window));
  if (f.search.trim()) q.set('idPrefix', f.search.trim().toLowerCase());
  q.set('limit', String(options.limit));
  if (options.cursor) q.set('cursor', options.cursor);
  return q.toString();
}

export interface SummaryLike {
  executionId: string;
  createdAt: number;
}

/** The time window and the id search, checked on the page too (a server older than them ignores them). */
export function matchesLocally(item: SummaryLike, f: ExecutionFilters, now: number): boolean {
  const window = TIME_WINDOWS[f.since];
  if (window !== undefined && item.createdAt < now - window) return false;
  const s = f.search.trim().toLowerCase();
  if (s && !item.executionId.toLowerCase().startsWith(s)) return false;
  return true;
}

/**
 * A page is newest first; once an item is older than the time window, every later page is
 * too, so paging can stop.
 */
export function pastWindow(items: readonly SummaryLike[], f: ExecutionFilters, now: number): boolean {
  const window = TIME_WINDOWS[f.since];
  const last = items[items.length - 1];
  return window !== undefined && last !== undefined && last.createdAt < now - window;
}

/** An id that looks whole (a UUID): the page opens it directly instead of searching the list. */
export function looksLikeExecutionId(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s.trim());
}
