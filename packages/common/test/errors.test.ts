import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  deserializeError,
  ErrorCode,
  ensureError,
  MAX_ERROR_DETAILS_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
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

  it('bounds what an error carries as data: a long message is cut, large details become a preview', () => {
    const bytes = (v: unknown) =>
      new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v)).length;
    // Multibyte text counts its UTF-8 bytes, and the cut never splits a character.
    const message = `parse error at ${'é€😀'.repeat(20_000)}`;
    const details = {
      diagnostics: Array.from({ length: 50 }, (_, i) => ({ pointer: `/${'k'.repeat(10_000)}${i}` })),
    };
    const data = serializeError(new Orchestr8Error(ErrorCode.VALIDATION, message, { details }));
    expect(bytes(data.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(data.message.startsWith('parse error at é€😀')).toBe(true);
    expect(data.message.endsWith('… [truncated]')).toBe(true);
    expect(data.message).not.toContain('\uFFFD');
    expect(bytes(data.details)).toBeLessThanOrEqual(MAX_ERROR_DETAILS_BYTES);
    expect(data.details).toMatchObject({ '[truncated]': true, originalBytes: bytes(details) });
    expect((data.details as { preview: string }).preview.startsWith('{"diagnostics":[{"pointer":"/kkk')).toBe(
      true,
    );
    // So does each cause, and the bounded form round-trips unchanged.
    const wrapped = serializeError(
      new Orchestr8Error(ErrorCode.AGENT_FAILED, 'outer', { cause: new Error(message) }),
    );
    expect(bytes(wrapped.cause!.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(serializeError(deserializeError(data))).toEqual(data);
    // What fits is kept as it is.
    const small = serializeError(
      new Orchestr8Error(ErrorCode.VALIDATION, 'bad', { details: { at: '/steps' } }),
    );
    expect(small).toMatchObject({ message: 'bad', details: { at: '/steps' } });
  });
});
