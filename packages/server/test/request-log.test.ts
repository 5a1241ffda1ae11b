import { expect, it } from 'vitest';
import { oneStep, post, startServer } from './helpers.js';

it('logs one line per request with its id, and none while the logger drops info lines', async () => {
  const lines: Record<string, unknown>[] = [];
  let info = true;
  const t = await startServer({
    logger: {
      info: (_message, data) => {
        if (info && data) lines.push(data);
      },
      error: () => {},
      infoEnabled: () => info,
    },
  });
  try {
    const run = await post(
      `${t.url}/workflows/execute?wait=5`,
      { workflow: oneStep('logged') },
      { 'x-request-id': 'r-1' },
    );
    expect(run.status).toBe(200);
    expect(run.headers.get('x-request-id')).toBe('r-1');
    await run.arrayBuffer();
    for (let i = 0; i < 500 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines).toMatchObject([
      {
        requestId: 'r-1',
        method: 'POST',
        path: '/workflows/execute',
        status: 200,
        executionId: expect.any(String),
      },
    ]);

    // The level now drops info lines: the id is still echoed (or made), nothing is logged.
    info = false;
    const quiet = await fetch(`${t.url}/executions?limit=1`, { headers: { 'x-request-id': 'r-2' } });
    expect(quiet.headers.get('x-request-id')).toBe('r-2');
    const made = await fetch(`${t.url}/executions?limit=1`);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    info = true;
    const after = await fetch(`${t.url}/executions?limit=1`, { headers: { 'x-request-id': 'r-3' } });
    await after.arrayBuffer();
    for (let i = 0; i < 500 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines.map((l) => l.requestId)).toEqual(['r-1', 'r-3']);
  } finally {
    await t.stop();
  }
});
