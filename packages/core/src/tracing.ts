import {
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { SerializedError } from '@orchestr8/common';
import { EventType } from './events.js';

/**
 * OpenTelemetry spans for executions, steps and attempts, through @opentelemetry/api only
 * (hosts install the SDK). When no SDK is registered nothing is created at all, so the
 * no-op costs one boolean check per execution.
 */
export const ATTR = {
  workflowId: 'orchestr8.workflow.id',
  workflowVersion: 'orchestr8.workflow.version',
  executionId: 'orchestr8.execution.id',
  stepId: 'orchestr8.step.id',
  agentId: 'orchestr8.agent.id',
  attempt: 'orchestr8.attempt',
  outcome: 'orchestr8.outcome',
  errorCode: 'error.type',
} as const;

/** True when a real tracer provider is registered globally (not the API's no-op). */
export function globalTracingEnabled(): boolean {
  const provider = trace.getTracerProvider() as { getDelegate?: () => object };
  const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
  return delegate?.constructor?.name !== 'NoopTracerProvider';
}

export function startExecutionSpan(
  tracer: Tracer,
  parent: Context | undefined,
  attrs: { workflowId: string; workflowVersion: string; executionId: string; resumed: boolean },
): Span {
  return tracer.startSpan(
    `workflow ${attrs.workflowId}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR.workflowId]: attrs.workflowId,
        [ATTR.workflowVersion]: attrs.workflowVersion,
        [ATTR.executionId]: attrs.executionId,
        'orchestr8.resumed': attrs.resumed,
      },
    },
    parent ?? context.active(),
  );
}

export function startChildSpan(
  tracer: Tracer,
  parent: Span,
  name: string,
  attributes: Record<string, string | number>,
  startTime?: number,
): Span {
  return tracer.startSpan(
    name,
    { kind: SpanKind.INTERNAL, attributes, ...(startTime !== undefined ? { startTime } : {}) },
    trace.setSpan(context.active(), parent),
  );
}

/**
 * Ends a span with its outcome. `error` must be the redacted record (`run.errorRecord`), as
 * the step's record holds it: its message becomes the span's status, which exporters send.
 */
export function endSpan(span: Span, outcome: string, error?: SerializedError): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (error) {
    span.setAttribute(ATTR.errorCode, error.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else if (outcome === 'completed') {
    span.setStatus({ code: SpanStatusCode.OK });
  }
  span.end();
}

/** Runs `fn` with `span` as the active span, so agents' outgoing calls carry its traceparent. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Journal entries that become span events (the rest are visible as spans themselves). */
export const SPAN_EVENTS: ReadonlySet<string> = new Set([
  EventType.stepRetrying,
  EventType.timeoutExceeded,
  EventType.circuitOpened,
  EventType.circuitHalfOpen,
  EventType.circuitClosed,
  EventType.circuitRejected,
  EventType.stepFallback,
  EventType.stepSkipped,
  EventType.stepCancelled,
  EventType.executionCancelling,
]);

/** A journal entry as an event on its step's span (or the execution's), with its key fields. */
export function addSpanEvent(
  target: Span,
  type: string,
  stepId: string | undefined,
  attempt: number | undefined,
  data?: Record<string, unknown>,
): void {
  const attrs: Record<string, string | number> = {};
  if (stepId !== undefined) attrs[ATTR.stepId] = stepId;
  if (attempt !== undefined) attrs[ATTR.attempt] = attempt;
  if (data) {
    for (const k of ['delayMs', 'timeoutMs', 'key', 'reason', 'fallbackStepId', 'nextAttempt'] as const) {
      const v = data[k];
      if (typeof v === 'string' || typeof v === 'number') attrs[`orchestr8.${k}`] = v;
    }
    const code = (data.error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') attrs[ATTR.errorCode] = code;
  }
  target.addEvent(type, attrs);
}
