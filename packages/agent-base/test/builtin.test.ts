import type { AgentContext } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { echoAgent, failAgent, helloWorldAgent, sleepAgent } from '../src/index.js';

function ctx(attempt = 1, signal = new AbortController().signal): AgentContext {
  return {
    signal,
    attempt,
    executionId: 'e',
    stepId: 's',
    idempotencyKey: 'k',
    config: {},
    logger: console,
  } as unknown as AgentContext;
}

describe('built-in agents', () => {
  it('hello-world greets the message or the name', async () => {
    expect(await helloWorldAgent.execute({ message: 'Ada' }, ctx())).toEqual({ result: 'Hello, Ada' });
    expect(await helloWorldAgent.execute({ name: 'Bob' }, ctx())).toEqual({ result: 'Hello, Bob' });
  });

  it('echo returns its input', async () => {
    expect(await echoAgent.execute({ a: [1] }, ctx())).toEqual({ a: [1] });
  });

  it('fail fails the first failTimes attempts with a retryable error, then succeeds', async () => {
    await expect(
      Promise.resolve().then(() => failAgent.execute({ failTimes: 1 }, ctx(1))),
    ).rejects.toMatchObject({
      code: 'RETRYABLE',
      retryable: true,
    });
    expect(await failAgent.execute({ failTimes: 1 }, ctx(2))).toEqual({ ok: true, attempt: 2 });
    await expect(
      Promise.resolve().then(() => failAgent.execute({ always: true, retryable: false }, ctx(9))),
    ).rejects.toMatchObject({ retryable: false });
  });

  it('sleep stops early with CANCELLED when its signal aborts', async () => {
    const ac = new AbortController();
    const p = Promise.resolve(sleepAgent.execute({ ms: 60_000 }, ctx(1, ac.signal)));
    ac.abort(new Error('stop'));
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
