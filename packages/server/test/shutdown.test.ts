import { describe, expect, it } from 'vitest';
import { gate, gated, post, startServer } from './helpers.js';

describe('graceful shutdown', () => {
  it('answers a request waiting for a result with the current status, ends event streams, and stops accepting', async () => {
    gate('shutdown-held');
    const t = await startServer();
    const waiting = post(
      `${t.url}/workflows/execute`,
      { workflow: gated('shutdown-held') },
      { prefer: 'wait=60' },
    );
    // Wait until the execution exists, then follow it.
    let id: string | undefined;
    for (let i = 0; i < 500 && !id; i++) {
      const page = (await (await fetch(`${t.url}/executions?workflowId=gated`)).json()) as {
        items: { executionId: string }[];
      };
      id = page.items[0]?.executionId;
      if (!id) await new Promise((r) => setTimeout(r, 5));
    }
    const stream = await fetch(`${t.url}/executions/${id}/events`);
    const reading = stream.text();

    await t.stop({ remove: false });

    const res = await waiting;
    expect(res.status).toBe(202);
    expect(((await res.json()) as Record<string, any>).status).toBe('running');
    expect(await reading).toContain('event: execution.started');
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();

    // The execution was left running for the next start.
    const again = await startServer({ dir: t.dir });
    try {
      expect(again.engine.isRunning(id!)).toBe(true);
    } finally {
      gate('shutdown-held').open();
      await again.stop();
    }
  });
});
