import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryTriggerStore, openSqliteTriggerStore, type TriggerStore } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-trigger-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: [string, () => TriggerStore][] = [
  ['memory', () => createMemoryTriggerStore()],
  ['sqlite', () => openSqliteTriggerStore(join(dir, `t-${Math.random()}.db`))],
];

describe.each(stores)('the %s trigger store', (_name, open) => {
  it('keeps trigger state', async () => {
    const s = open();
    await s.put({ key: 'wf/a', lastFireAt: 5, paused: true, lastExecutionId: 'e1', updatedAt: 9 });
    expect(await s.get('wf/a')).toEqual({
      key: 'wf/a',
      lastFireAt: 5,
      paused: true,
      lastExecutionId: 'e1',
      updatedAt: 9,
    });
    expect(await s.list()).toHaveLength(1);
    expect(await s.get('wf/b')).toBeUndefined();
    await s.close();
  });

  it('gives the lease to one owner until it expires or is released', async () => {
    const s = open();
    expect(await s.acquireLease('l', 'a', 0, 100)).toBe(true);
    expect(await s.acquireLease('l', 'b', 50, 100)).toBe(false);
    expect(await s.acquireLease('l', 'a', 60, 100)).toBe(true);
    expect(await s.acquireLease('l', 'b', 161, 100)).toBe(true);
    await s.releaseLease('l', 'b');
    expect(await s.acquireLease('l', 'a', 162, 100)).toBe(true);
    await s.close();
  });

  it('claims a delivery id once until it expires', async () => {
    const s = open();
    expect(await s.claimDelivery('d', 0, 100)).toBe(true);
    expect(await s.claimDelivery('d', 50, 100)).toBe(false);
    expect(await s.claimDelivery('d', 100, 100)).toBe(true);
    await s.close();
  });
});
