/**
 * The example as its README runs it (the CLI binary, in this directory), its declarative
 * tests (`orchestr8 test`), and the same workflow in-process with @orchestr8/testing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestEngine, expectResult, expectStep } from '@orchestr8/testing';
import { describe, expect, it } from 'vitest';
import { deliver, personalize } from '../src/agents.js';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const WORKFLOW = fileURLToPath(new URL('../workflows/hello-world.yaml', import.meta.url));

function orchestr8(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } },
      (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('hello-world example', () => {
  it('runs with the README command: greeted, restyled, delivered on the second attempt', async () => {
    // `pnpm start` is `orchestr8 run workflows/hello-world.yaml --input name=Ada`; --json and an
    // in-memory store keep the test from reading a person or writing the example's database.
    const r = await orchestr8(
      'run',
      'workflows/hello-world.yaml',
      '--input',
      'name=Ada',
      '--json',
      '--store',
      'memory',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.outputs).toEqual({
      message: 'Hello, Ada! Lovely to see you, Ada!\n-- sent by orchestr8',
      channel: 'console',
      deliveredOnAttempt: 2,
    });
    expect(result.steps.deliver).toMatchObject({ status: 'completed', attempts: 2 });
    expect(r.stderr).toContain('[console] Hello, Ada!');
  });

  it('passes its declarative tests', async () => {
    const r = await orchestr8('test');
    expect(r.stdout).toMatch(/tests 3 passed, 3 total/);
    expect(r.code).toBe(0);
  });

  it('retries in no real time on the test engine, and fails after three attempts', async () => {
    const engine = createTestEngine({ agents: [personalize, deliver] });
    const twice = await engine.run(WORKFLOW, { inputs: { name: 'Ada', flakyDeliveries: 2 } });
    expectResult(twice).toHaveCompleted().toHaveOutputs({ deliveredOnAttempt: 3 });
    expect((await engine.journal(twice)).retries('deliver')).toBe(2);

    const down = await engine.run(WORKFLOW, { inputs: { name: 'Ada', flakyDeliveries: 9 } });
    expectResult(down).toHaveFailedWith('RETRYABLE');
    expectStep(down, 'deliver').toHaveStatus('failed').toHaveAttempts(3);
  });
});
