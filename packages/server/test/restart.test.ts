import { describe, expect, it } from 'vitest';
import { gate, gated, oneStep, post, startServer, waitTerminal } from './helpers.js';

describe('a server restart on the same SQLite file', () => {
  it('replays an Idempotency-Key of a finished execution with the same execution', async () => {
    const first = await startServer();
    const body = { workflow: oneStep('restart-finished'), inputs: { n: 1 } };
    const headers = { 'idempotency-key': 'survives-restart', prefer: 'wait=10' };
    const before = (await (await post(`${first.url}/workflows/execute`, body, headers)).json()) as Record<
      string,
      any
    >;
    expect(before.status).toBe('completed');
    await first.stop({ remove: false });

    const second = await startServer({ dir: first.dir });
    try {
      const res = await post(`${second.url}/workflows/execute`, body, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      const after = (await res.json()) as Record<string, any>;
      expect(after.executionId).toBe(before.executionId);
      expect(after.outputs).toEqual(before.outputs);
    } finally {
      await second.stop();
    }
  });

  it('resumes an execution left running, and replays its key while and after it runs', async () => {
    const g = gate('restart-running');
    const first = await startServer();
    const body = { workflow: gated('restart-running', 'restart-running') };
    const headers = { 'idempotency-key': 'running-across-restart' };
    const started = (await (await post(`${first.url}/workflows/execute`, body, headers)).json()) as Record<
      string,
      any
    >;
    // Shut down with the gated step still running: the execution stays `running` in the store.
    await first.stop({ remove: false });

    const second = await startServer({ dir: first.dir });
    try {
      const replay = await post(`${second.url}/workflows/execute`, body, headers);
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const during = (await replay.json()) as Record<string, any>;
      expect(during.executionId).toBe(started.executionId);
      expect(during.status).toBe('running');
      g.open();
      const done = await waitTerminal(second.url, started.executionId);
      expect(done.status).toBe('completed');
      const later = await post(`${second.url}/workflows/execute`, body, { ...headers, prefer: 'wait=5' });
      expect(later.status).toBe(200);
      expect(((await later.json()) as Record<string, any>).executionId).toBe(started.executionId);
    } finally {
      await second.stop();
    }
  });
});
