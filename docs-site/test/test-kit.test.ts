/**
 * The test kit, as the "Testing workflows" guide shows it (the guide includes this file).
 * It runs with `pnpm test` like any other test.
 */
import { fileURLToPath } from 'node:url';
import { createTestEngine, expectStep, mockAgent } from '@orchestr8/testing';
import { describe, expect, it } from 'vitest';

const workflow = fileURLToPath(new URL('../snippets/fetch-user.yaml', import.meta.url));

describe('fetch-user', () => {
  it('retries a 503, then greets', async () => {
    const http = mockAgent('@orchestr8/http', [
      { fail: 'HTTP_5XX' }, // attempt 1
      { result: { status: 200, headers: {}, body: { name: 'Ada' } } }, // attempt 2
    ]);
    const engine = createTestEngine({ agents: [http] });

    // The 2 s backoff takes no real time: the fake clock skips it.
    const result = await engine.run(workflow, { inputs: { id: 7 } });

    expect(result.status).toBe('completed');
    expect(result.outputs).toEqual({ greeting: 'Hello, Ada' });
    expectStep(result, 'fetch').toHaveCompleted().toHaveAttempts(2);
    expect(http.calls[0]?.input).toEqual({ url: 'https://api.example.com/users/7' });
    (await engine.journal(result)).expect({ type: 'step.retrying', stepId: 'fetch', count: 1 });
  });

  it('fails with the last error when the service stays down', async () => {
    const engine = createTestEngine({ agents: [mockAgent('@orchestr8/http', { fail: 'HTTP_5XX' })] });
    const result = await engine.run(workflow);
    expect(result.status).toBe('failed');
    expectStep(result, 'fetch').toHaveFailedWith('HTTP_5XX').toHaveAttempts(3);
  });
});
