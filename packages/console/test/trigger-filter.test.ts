import { describe, expect, it } from 'vitest';
import { matchesTrigger } from '../app/lib/trigger-filter.js';

const nightly = { workflowId: 'billing', name: 'nightly', kind: 'schedule', schedule: { cron: '0 2 * * *' } };
const orders = { workflowId: 'shop', name: 'on-order', kind: 'event', event: 'order.created' };

describe('the Schedules filter', () => {
  it('matches on workflow, trigger name, kind, cron or event name, in any case', () => {
    const hits = (text: string) =>
      [nightly, orders].filter((t) => matchesTrigger(t, text)).map((t) => t.name);
    expect(hits('BILL')).toEqual(['nightly']);
    expect(hits('on-ord')).toEqual(['on-order']);
    expect(hits('event')).toEqual(['on-order']);
    expect(hits('0 2 *')).toEqual(['nightly']);
    expect(hits('order.created')).toEqual(['on-order']);
    expect(hits('  ')).toEqual(['nightly', 'on-order']);
    expect(hits('nothing like it')).toEqual([]);
  });
});
