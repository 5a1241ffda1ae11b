import { defineAgent } from '@orchestr8/agent-base';
import { describe, expect, it } from 'vitest';
import { createTestEngine, expectResult, expectStep, mockAgent } from '../src/index.js';

const doc = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  metadata: { id: 'under-test' },
  steps,
  ...extra,
});

describe('createTestEngine', () => {
  it('skips backoff time: a step that fails twice completes on its third attempt at once', async () => {
    const flaky = mockAgent('@acme/flaky', [
      { fail: 'RETRYABLE' },
      { fail: 'HTTP_5XX' },
      { result: { ok: 1 } },
    ]);
    const engine = createTestEngine({ agents: [flaky] });
    const started = engine.clock.now();
    const result = await engine.run(
      doc([
        {
          id: 'a',
          agent: '@acme/flaky',
          policies: { retry: { maxAttempts: 5, baseDelayMs: '1m', maxDelayMs: '10m', jitter: 'none' } },
        },
      ]),
    );
    expectResult(result).toHaveCompleted();
    expectStep(result, 'a').toHaveAttempts(3).toHaveOutput({ ok: 1 });
    // Two backoffs of a minute and two minutes passed on the fake clock, none in real time.
    expect(engine.clock.now() - started).toBeGreaterThanOrEqual(180_000);
    expect(flaky.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    const journal = await engine.journal(result);
    expect(journal.retries('a')).toBe(2);
    journal.expect({ type: 'step.retrying', stepId: 'a', count: 2 });
  });

  it('times out a mock that is slower than the step timeout, in fake time', async () => {
    const slow = mockAgent('@acme/slow', [{ delayMs: 60_000, result: 'late' }, { result: 'quick' }]);
    const engine = createTestEngine({ agents: [slow] });
    const result = await engine.run(
      doc([
        {
          id: 's',
          agent: '@acme/slow',
          policies: { timeout: '5s', retry: { maxAttempts: 2, baseDelayMs: 10 } },
        },
      ]),
    );
    expectStep(result, 's').toHaveCompleted().toHaveAttempts(2).toHaveOutput('quick');
    (await engine.journal(result)).expect({ type: 'timeout.exceeded', stepId: 's', count: 1 });
  });

  it('mocks replace built-in agents by id; others stay real', async () => {
    const engine = createTestEngine({
      agents: [mockAgent('@orchestr8/hello-world', { result: { result: 'mocked' } })],
    });
    const result = await engine.run(
      doc(
        [
          { id: 'hi', agent: '@orchestr8/hello-world', input: { name: 'Ada' } },
          {
            id: 'echo',
            agent: '@orchestr8/echo',
            dependencies: ['hi'],
            input: { said: '${steps.hi.output.result}' },
          },
        ],
        { outputs: { said: '${steps.echo.output.said}' } },
      ),
    );
    expectResult(result).toHaveCompleted().toHaveOutputs({ said: 'mocked' });
  });

  it('runs your own agents and waits for their real I/O without moving fake time', async () => {
    const io = defineAgent({
      id: '@acme/io',
      execute: () => new Promise((r) => setTimeout(() => r({ done: true }), 20)),
    });
    const engine = createTestEngine({ agents: [io] });
    const before = engine.clock.now();
    const result = await engine.run(doc([{ id: 'x', agent: '@acme/io', policies: { timeout: '1s' } }]));
    expectStep(result, 'x').toHaveCompleted().toHaveOutput({ done: true });
    expect(engine.clock.now()).toBe(before);
  });

  it('a mock stands in for a remote agent of the same id', async () => {
    const engine = createTestEngine({ agents: [mockAgent('@acme/upper', { result: { text: 'HI' } })] });
    const result = await engine.run(
      doc([{ id: 'u', agent: { id: '@acme/upper', url: 'http://127.0.0.1:1' }, input: { text: 'hi' } }]),
    );
    expectStep(result, 'u').toHaveOutput({ text: 'HI' });
  });

  it('a terminal failure is not retried and fails the execution', async () => {
    const engine = createTestEngine({
      agents: [mockAgent('@acme/x', { fail: 'TERMINAL', message: 'no way' })],
    });
    const result = await engine.run(doc([{ id: 'x', agent: '@acme/x' }]));
    expectResult(result).toHaveFailedWith('TERMINAL');
    expectStep(result, 'x').toHaveStatus('failed').toHaveAttempts(1).toHaveFailedWith('TERMINAL', 'no way');
  });

  it('loads workflow files and refuses invalid documents with their diagnostics', async () => {
    const engine = createTestEngine();
    await expect(engine.run(doc([{ id: 'x', agent: '@acme/unknown' }]))).rejects.toThrow(
      /E_UNKNOWN_AGENT|unknown/i,
    );
    const result = await engine.run(
      new URL('../../../workflows/hello-world.yaml', import.meta.url).pathname,
      {
        inputs: { name: 'Ada' },
      },
    );
    expectResult(result).toHaveCompleted().toHaveOutputs({ raw: 'Hello, Ada' });
  });

  it('lets a test drive time by hand with start and advance', async () => {
    const engine = createTestEngine({ agents: [mockAgent('@acme/wait', { delayMs: 1000, result: 1 })] });
    const handle = await engine.start(await engine.load(doc([{ id: 'w', agent: '@acme/wait' }])));
    let done = false;
    void handle.result.then(() => {
      done = true;
    });
    await engine.advance(999);
    expect(done).toBe(false);
    await engine.advance(1);
    expectResult(await handle.result).toHaveCompleted();
  });
});
