import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  ErrorCode,
  ensureError,
  hasCode,
  isOrchestr8Error,
  Orchestr8Error,
  safeJsonStringify,
  serializeError,
  TerminalError,
  ValidationError,
} from '../src/index.js';

describe('error classes and predicates', () => {
  it('gives each class its code and retryability, whatever the options say', () => {
    expect(new TerminalError('no')).toMatchObject({
      code: 'TERMINAL',
      retryable: false,
      name: 'TerminalError',
    });
    expect(new TerminalError('gone', { code: ErrorCode.HTTP_4XX }).code).toBe('HTTP_4XX');
    expect(new ValidationError('bad')).toMatchObject({ code: 'VALIDATION', retryable: false });
    expect(new CircuitOpenError('open')).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: false });
    // A code retried by default, unless the error says otherwise.
    expect(new Orchestr8Error(ErrorCode.HTTP_429, 'slow down').retryable).toBe(true);
    expect(new Orchestr8Error(ErrorCode.HTTP_429, 'slow down', { retryable: false }).retryable).toBe(false);
  });

  it('recognises an orchestr8 error by its shape, so a second copy of the package still matches', () => {
    expect(isOrchestr8Error(new ValidationError('x'))).toBe(true);
    const foreign = Object.assign(new Error('from another copy'), { code: 'TIMEOUT', retryable: true });
    expect(isOrchestr8Error(foreign)).toBe(true);
    expect(isOrchestr8Error({ code: 'TIMEOUT', retryable: true })).toBe(false);
    expect(isOrchestr8Error(new Error('plain'))).toBe(false);
    expect(isOrchestr8Error(null)).toBe(false);
  });

  it('hasCode compares the code of anything, without throwing on primitives', () => {
    expect(hasCode(new ValidationError('x'), 'VALIDATION')).toBe(true);
    expect(hasCode({ code: 'CONFLICT' }, 'CONFLICT')).toBe(true);
    expect(hasCode(new ValidationError('x'), 'TIMEOUT')).toBe(false);
    expect(hasCode(undefined, 'TIMEOUT')).toBe(false);
    expect(hasCode('TIMEOUT', 'TIMEOUT')).toBe(false);
  });

  it('ensureError keeps a foreign error as the cause, its known code and its retryable flag', () => {
    const unknownCode = Object.assign(new Error('disk'), { code: 'EIO' });
    const e = ensureError(unknownCode, ErrorCode.STORE);
    expect(e.code).toBe('STORE');
    expect(e.cause).toBe(unknownCode);
    const flagged = Object.assign(new Error('flaky'), { retryable: true });
    expect(ensureError(flagged).retryable).toBe(true);
    const named = new Error('');
    named.name = 'AbortError';
    expect(ensureError(named)).toMatchObject({ code: 'CANCELLED', message: 'aborted' });
  });

  it('ensureError describes thrown values that JSON cannot hold', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(ensureError(cyclic).message).toBe('non-error thrown: [object Object]');
    expect(ensureError(undefined).message).toBe('non-error thrown: undefined');
    expect(ensureError(10n).message).toBe('non-error thrown: 10');
  });

  it('serialises details, retryAfterMs and at most five levels of causes', () => {
    let e: unknown = new Error('root');
    for (let i = 0; i < 8; i++) e = new Orchestr8Error(ErrorCode.INTERNAL, `level ${i}`, { cause: e });
    let data = serializeError(
      new Orchestr8Error(ErrorCode.HTTP_5XX, 'top', { cause: e, details: { status: 503 }, retryAfterMs: 20 }),
    );
    expect(data).toMatchObject({ details: { status: 503 }, retryAfterMs: 20, retryable: true });
    let depth = 0;
    while (data.cause) {
      data = data.cause;
      depth++;
    }
    expect(depth).toBe(5);
  });
});

describe('safeJsonStringify', () => {
  it('writes what JSON.stringify writes when it can', () => {
    expect(safeJsonStringify({ a: [1, 'two', null] })).toBe('{"a":[1,"two",null]}');
  });

  it('writes BigInt as its decimal string', () => {
    expect(safeJsonStringify({ n: 12345678901234567890n })).toBe('{"n":"12345678901234567890"}');
  });

  it('marks cycles instead of throwing, and keeps BigInt on that path too', () => {
    const a: Record<string, unknown> = { n: 1n };
    a.self = a;
    expect(safeJsonStringify(a)).toBe('{"n":"1","self":"[circular]"}');
  });

  it('gives "null" for what JSON cannot represent at the top level', () => {
    expect(safeJsonStringify(undefined)).toBe('null');
    expect(safeJsonStringify(() => 1)).toBe('null');
  });
});
