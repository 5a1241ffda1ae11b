import { describe, expect, it } from 'vitest';
import {
  apiQuery,
  emptyFilters,
  filtersFromQuery,
  filtersToQuery,
  looksLikeExecutionId,
  matchesLocally,
  pastWindow,
} from '../app/lib/filters.js';
import { parseRoute } from '../app/lib/routes.js';

describe('execution filters', () => {
  it('round-trips through the page URL', () => {
    const f = {
      status: ['failed', 'running'],
      workflow: 'orders',
      trigger: 'nightly',
      since: '24h',
      search: 'ab12',
    };
    expect(filtersFromQuery(filtersToQuery(f))).toEqual(f);
    expect(filtersToQuery(emptyFilters())).toBe('');
  });

  it('drops statuses and windows it does not know instead of sending them to the server', () => {
    expect(filtersFromQuery('status=failed,bogus,failed&since=3y')).toMatchObject({
      status: ['failed'],
      since: '',
    });
  });

  it('asks the server for status, workflow, trigger, time window and id prefix, with paging', () => {
    const q = new URLSearchParams(
      apiQuery(
        { status: ['failed'], workflow: ' orders ', trigger: 'nightly', since: '1h', search: 'AB12' },
        { limit: 50, cursor: 'c1', now: 7_200_000 },
      ),
    );
    expect(Object.fromEntries(q)).toEqual({
      status: 'failed',
      workflowId: 'orders',
      trigger: 'nightly',
      since: '3600000',
      idPrefix: 'ab12',
      limit: '50',
      cursor: 'c1',
    });
  });

  it('filters the time window and id prefix on the page, and stops paging past the window', () => {
    const now = 10 * 86_400_000;
    const f = { ...emptyFilters(), since: '24h', search: 'AB' };
    expect(matchesLocally({ executionId: 'ab-1', createdAt: now - 1000 }, f, now)).toBe(true);
    expect(matchesLocally({ executionId: 'cd-1', createdAt: now - 1000 }, f, now)).toBe(false);
    expect(matchesLocally({ executionId: 'ab-2', createdAt: now - 2 * 86_400_000 }, f, now)).toBe(false);
    expect(pastWindow([{ executionId: 'x', createdAt: now - 2 * 86_400_000 }], f, now)).toBe(true);
    expect(pastWindow([{ executionId: 'x', createdAt: now }], f, now)).toBe(false);
    expect(pastWindow([{ executionId: 'x', createdAt: 0 }], emptyFilters(), now)).toBe(false);
  });

  it('recognises a whole execution id (opened directly)', () => {
    expect(looksLikeExecutionId(' 0b4e8f9c-1b2a-4c3d-8e9f-0a1b2c3d4e5f ')).toBe(true);
    expect(looksLikeExecutionId('0b4e8f9c')).toBe(false);
  });
});

describe('console routes', () => {
  it('maps paths under /console to pages and nothing else', () => {
    expect(parseRoute('/')).toEqual({ page: 'executions' });
    expect(parseRoute('/console/executions/')).toEqual({ page: 'executions' });
    expect(parseRoute('/console/executions/a%2Fb')).toEqual({ page: 'execution', id: 'a/b' });
    expect(parseRoute('/console/workflows/orders')).toEqual({ page: 'workflow', id: 'orders' });
    expect(parseRoute('/console/workers')).toEqual({ page: 'workers' });
    expect(parseRoute('/executions')).toEqual({ page: 'not-found', path: '/executions' });
    expect(parseRoute('/console/nope')).toEqual({ page: 'not-found', path: '/console/nope' });
  });
});
