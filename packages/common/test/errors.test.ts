import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  deserializeError,
  ErrorCode,
  ensureError,
  Orchestr8Error,
  RetryableError,
  serializeError,
  TimeoutError,
} from '../src/index.js';

describe('error taxonomy', () => {
  it('marks timeouts and explicit retryable errors retryable, validation not', () => {
    expect(new TimeoutError('slow').retryable).toBe(true);
    expect(new RetryableError('busy', { retryAfterMs: 50 }).retryAfterMs).toBe(50);
    expect(new Orchestr8Error(ErrorCode.VALIDATION, 'bad').retryable).toBe(false);
    expect(new Orchestr8Error(ErrorCode.CIRCUIT_OPEN, 'open').retryable).toBe(false);
  });

  it('normalises strings, foreign errors and abort errors', () => {
    expect(ensureError('boom').code).toBe(ErrorCode.AGENT_FAILED);
    const abort = new DOMException('stop', 'AbortError');
    expect(ensureError(abort).code).toBe(ErrorCode.CANCELLED);
    const withCode = Object.assign(new Error('t'), { code: 'TIMEOUT' });
    expect(ensureError(withCode).retryable).toBe(true);
    expect(ensureError({ weird: 1 }).message).toContain('{"weird":1}');
  });

  it('round-trips through JSON with its cause chain', () => {
    const e = new CancelledError('user asked', { cause: new RetryableError('inner', { attempts: 2 }) });
    const data = JSON.parse(JSON.stringify(e));
    expect(data).toMatchObject({
      code: 'CANCELLED',
      retryable: false,
      cause: { code: 'RETRYABLE', attempts: 2 },
    });
    const back = deserializeError(data);
    expect(back.code).toBe('CANCELLED');
    expect(serializeError(back)).toEqual(data);
  });
});
