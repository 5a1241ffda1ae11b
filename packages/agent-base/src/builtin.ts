import { CancelledError, ErrorCode, Orchestr8Error, RetryableError, TerminalError } from '@orchestr8/common';
import type { Agent } from '@orchestr8/core';
import { defineAgent } from './define-agent.js';

/** Greets: `{message}` or `{name}` in, `{result: "Hello, <message>"}` out. */
export const helloWorldAgent = defineAgent<{ message?: unknown; name?: unknown }, { result: string }>({
  id: '@orchestr8/hello-world',
  version: '1.0.0',
  description: 'Returns {result: "Hello, <message or name>"}.',
  inputSchema: {
    type: 'object',
    properties: { message: { description: 'Text to greet' }, name: { description: 'Alias of message' } },
  },
  outputSchema: { type: 'object', properties: { result: { type: 'string' } }, required: ['result'] },
  execute(input) {
    const subject = input?.message ?? input?.name ?? 'world';
    return { result: `Hello, ${typeof subject === 'string' ? subject : JSON.stringify(subject)}` };
  },
});

/** Returns its input unchanged. */
export const echoAgent = defineAgent({
  id: '@orchestr8/echo',
  version: '1.0.0',
  description: 'Returns its input as its output.',
  execute: (input: unknown) => input,
});

/** Waits `ms` milliseconds (honouring cancellation), then returns `value` (or `{sleptMs}`). */
export const sleepAgent = defineAgent<{ ms?: number; value?: unknown }, unknown>({
  id: '@orchestr8/sleep',
  version: '1.0.0',
  description: 'Sleeps for `ms` milliseconds, stopping early when the step is cancelled or times out.',
  inputSchema: {
    type: 'object',
    properties: { ms: { type: 'number', minimum: 0, default: 0 }, value: {} },
  },
  execute(input, ctx) {
    const ms = input?.ms ?? 0;
    return new Promise((resolve, reject) => {
      if (ctx.signal.aborted) return reject(new CancelledError(abortMessage(ctx.signal)));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new CancelledError(abortMessage(ctx.signal)));
      };
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(input && 'value' in input ? input.value : { sleptMs: ms });
      }, ms);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  },
});

function abortMessage(signal: AbortSignal): string {
  const r = signal.reason as { message?: unknown } | undefined;
  return typeof r?.message === 'string' ? r.message : 'aborted';
}

/**
 * Fails on purpose, for demos and tests: the first `failTimes` attempts fail (or every
 * attempt with `always`), then it returns `{ok: true, attempt}`. The error is retryable
 * unless `code` names a terminal code or `retryable: false`.
 */
export const failAgent = defineAgent<
  {
    failTimes?: number;
    always?: boolean;
    code?: string;
    message?: string;
    retryable?: boolean;
    value?: unknown;
  },
  unknown
>({
  id: '@orchestr8/fail',
  version: '1.0.0',
  description: 'Fails the first `failTimes` attempts (or always), then succeeds. For demos and tests.',
  inputSchema: {
    type: 'object',
    properties: {
      failTimes: { type: 'integer', minimum: 0 },
      always: { type: 'boolean' },
      code: { type: 'string' },
      message: { type: 'string' },
      retryable: { type: 'boolean' },
      value: {},
    },
  },
  execute(input, ctx) {
    const failTimes = input?.always ? Number.POSITIVE_INFINITY : (input?.failTimes ?? 1);
    if (ctx.attempt <= failTimes) {
      const message = input?.message ?? `intentional failure (attempt ${ctx.attempt})`;
      if (input?.retryable === false)
        throw new TerminalError(message, { code: input?.code ?? ErrorCode.TERMINAL });
      if (input?.code && input.code !== ErrorCode.RETRYABLE) throw new Orchestr8Error(input.code, message);
      throw new RetryableError(message);
    }
    return input && 'value' in input ? input.value : { ok: true, attempt: ctx.attempt };
  },
});

export const builtinAgents: readonly Agent[] = [helloWorldAgent, echoAgent, sleepAgent, failAgent];
