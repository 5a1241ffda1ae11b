/**
 * `orchestr8 cancel` of an execution whose process died, then `orchestr8 resume`: what the
 * user is told at each step, through the real binary against one SQLite store.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENTS, assertBuilt, cli, readSide, recordExecution, useTempRoot } from './fixtures/harness.js';

const tempDir = useTempRoot('cancel-interrupted');
const abc = [
  { id: 'a', deps: [], ms: 0, own: 1 },
  { id: 'b', deps: ['a'], ms: 0, own: 2 },
  { id: 'c', deps: ['b'], ms: 0, own: 3 },
];

describe('cancelling an execution whose process stopped', () => {
  beforeAll(assertBuilt);

  it('says the request waits for a resume when no process runs it, and resume says the running step was interrupted', async () => {
    const dir = tempDir();
    const db = join(dir, 'orchestr8.db');
    const side = join(dir, 'side.log');
    const run = (args: string[]) =>
      cli([...args, '--store', `sqlite:${db}`], { cwd: dir, env: { ORCHESTR8_TEST_SIDE_FILE: side } });
    const id = await recordExecution(db, 'abc', abc, { crashAt: 'b' });

    const cancel = await run(['cancel', id, '--reason', 'not needed']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`cancellation requested for execution ${id}`);
    expect(cancel.stdout).toContain(`it is cancelled when resumed: orchestr8 resume ${id}`);
    expect(cancel.stdout).not.toContain('the process running it will stop it');

    const resumed = await run(['resume', id, '--agents', AGENTS]);
    expect(resumed.code).toBe(1);
    expect(readSide(side)).toEqual([]);
    const inspected = JSON.parse((await run(['inspect', id, '--json'])).stdout);
    const reasons = Object.fromEntries(
      inspected.steps.map((s: { stepId: string; status: string; statusReason?: string }) => [
        s.stepId,
        `${s.status}: ${s.statusReason}`,
      ]),
    );
    expect(reasons.b).toBe(
      'cancelled: execution cancelled while this step was interrupted (the process running it stopped); not run again',
    );
    expect(reasons.c).toBe('cancelled: execution cancelled before the step started');
  });
});
