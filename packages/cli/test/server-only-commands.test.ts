/**
 * Commands that only talk to a server (approvals, send-event, signal, approve, reject,
 * triggers) find the project's server of `orchestr8 server start`, as run, list and cancel
 * do; and each says its own exit codes. Real processes of the built CLI in a temp project.
 */
import { describe, expect, it } from 'vitest';
import { cli } from './fixtures/harness.js';
import { useProjectServer } from './fixtures/project-server.js';

const { dir } = useProjectServer('server-only-commands');

describe('server-only commands and the project server', { timeout: 120_000 }, () => {
  it('approvals, send-event, signal and triggers reach the project server without --server', async () => {
    const approvals = await cli(['approvals', '--json'], { cwd: dir });
    expect(approvals.code, approvals.stderr).toBe(0);
    expect(JSON.parse(approvals.stdout)).toEqual({ items: [] });

    const event = await cli(['send-event', 'foo', '--json'], { cwd: dir });
    expect(event.code, event.stderr).toBe(0);
    expect(JSON.parse(event.stdout)).toMatchObject({ accepted: true, woken: 0 });

    // An execution the server does not have: the server answers 404 (not a network error).
    const signal = await cli(['signal', 'exec_nope', 'go'], { cwd: dir });
    expect(signal.stderr).not.toContain('NETWORK');
    expect(signal.stderr).toContain('error NOT_FOUND');
    expect(signal.code).toBe(1);

    const approve = await cli(['approve', 'exec_nope', 'step'], { cwd: dir });
    expect(approve.stderr).not.toContain('NETWORK');
    expect(approve.code).toBe(1);

    const triggers = await cli(['triggers', 'list'], { cwd: dir });
    expect(triggers.stderr).not.toContain('NETWORK');
  });

  it('send-event --idempotency-key: the same event again gets the first answer, a different one is refused (exit 2)', async () => {
    const args = ['send-event', 'paid', '--idempotency-key', 'k-1', '--json'];
    const first = await cli([...args, '--payload', '{"n":1}'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const again = await cli([...args, '--payload', '{"n":1}'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(first.stdout));
    const other = await cli([...args, '--payload', '{"n":2}'], { cwd: dir });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('error IDEMPOTENCY_KEY_REUSED');
  });

  it('each command says its own exit codes: only approve and reject speak of decisions and form data', async () => {
    for (const cmd of ['send-event', 'signal', 'approvals']) {
      const help = await cli([cmd, '--help'], { cwd: dir });
      expect(help.stdout).toContain('Exit codes:');
      expect(help.stdout, cmd).not.toContain('already decided');
      expect(help.stdout, cmd).not.toContain('form data');
      expect(help.stdout).toContain('the project server of `orchestr8 server start`');
    }
    const sendEvent = (await cli(['send-event', '--help'], { cwd: dir })).stdout.replace(/\s+/g, ' ');
    expect(sendEvent).toContain('a different event with this key is refused (422 IDEMPOTENCY_KEY_REUSED)');
    for (const cmd of ['approve', 'reject']) {
      const help = await cli([cmd, '--help'], { cwd: dir });
      expect(help.stdout).toContain('already decided');
      expect(help.stdout).toContain('form data');
    }
  });
});
