/**
 * Where a processor's errors go: to its `onError` and to the transport's error sink. An
 * event refused (invalid, late, over the slice's limit) and a slice skipped are errors too.
 */
import { ErrorCode, Orchestr8Error, serializeError } from '@orchestr8/common';
import type { CompiledStream } from './load-stream.js';
import type { StreamErrorRecord } from './slice-runner.js';
import type { StreamTransport } from './transport.js';

export interface ErrorSinkOptions {
  stream: CompiledStream;
  transport: StreamTransport;
  /** Called with each error also sent to the transport's error sink. */
  onError?: (error: StreamErrorRecord) => void;
}

/** Reports an event or slice refused: a VALIDATION error, LIMIT_EXCEEDED for too many events. */
export type Refuse = (
  kind: StreamErrorRecord['kind'],
  message: string,
  eventId?: string,
  slice?: number,
) => void;

export interface ErrorSink {
  report(error: StreamErrorRecord): void;
  refuse: Refuse;
}

export function createErrorSink(options: ErrorSinkOptions): ErrorSink {
  const { stream, transport } = options;
  const report = (error: StreamErrorRecord) => {
    options.onError?.(error);
    // The sink is best effort: an unreachable sink must not stop the stream.
    transport.publishError(error).catch(() => {});
  };
  const refuse = (kind: StreamErrorRecord['kind'], message: string, eventId?: string, slice?: number) =>
    report({
      stream: stream.id,
      kind,
      ...(slice === undefined ? {} : { slice }),
      ...(eventId === undefined ? {} : { eventId }),
      error: serializeError(
        new Orchestr8Error(
          kind === 'too-many-events' ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.VALIDATION,
          message,
        ),
      ),
    });
  return { report, refuse };
}
