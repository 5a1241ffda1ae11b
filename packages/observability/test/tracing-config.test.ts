import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  parseResourceAttributes,
  startTracing,
  traceContextFromEnv,
  tracingConfigFromEnv,
} from '../src/index.js';

describe('tracingConfigFromEnv', () => {
  it('is off without OTEL_* settings', () => {
    expect(tracingConfigFromEnv({})).toMatchObject({ enabled: false, reason: 'no OTLP endpoint is set' });
  });

  it('is on with an OTLP endpoint, over http/protobuf by default', () => {
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      enabled: true,
      protocol: 'http/protobuf',
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'orchestr8',
    });
    expect(
      tracingConfigFromEnv({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/v1/traces',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'billing',
      }),
    ).toEqual({
      enabled: true,
      protocol: 'http/json',
      endpoint: 'http://tempo:4318/v1/traces',
      serviceName: 'billing',
    });
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp alone (the default endpoint)', () => {
    expect(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({
      enabled: true,
      endpoint: 'http://localhost:4318/v1/traces',
    });
  });

  it('is off when disabled, and says why for unsupported settings', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(tracingConfigFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(tracingConfigFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(tracingConfigFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' }).reason).toMatch(/only otlp/);
    expect(tracingConfigFromEnv({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toMatchObject({
      enabled: false,
      problem: expect.stringMatching(/grpc.*not supported/),
    });
  });

  it('takes the service name from OTEL_RESOURCE_ATTRIBUTES unless OTEL_SERVICE_NAME is set', () => {
    const attrs = 'service.name=orders,deployment.environment=prod%20eu';
    expect(parseResourceAttributes(attrs)).toEqual({
      'service.name': 'orders',
      'deployment.environment': 'prod eu',
    });
    expect(tracingConfigFromEnv({ OTEL_RESOURCE_ATTRIBUTES: attrs }).serviceName).toBe('orders');
    expect(
      tracingConfigFromEnv({ OTEL_RESOURCE_ATTRIBUTES: attrs, OTEL_SERVICE_NAME: 'x' }).serviceName,
    ).toBe('x');
  });
});

describe('startTracing', () => {
  it('registers nothing when the environment does not ask for export', async () => {
    expect(await startTracing({ env: {} })).toBeUndefined();
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('registers a provider and a propagator, continues TRACEPARENT, and unregisters on shutdown', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = (await startTracing({ exporter, processor: 'simple', env: {}, serviceName: 'svc' }))!;
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parent = traceContextFromEnv({ TRACEPARENT: traceparent });
    expect(parent).toBeDefined();
    trace.getTracer('t').startSpan('child', {}, parent).end();
    await tracing.forceFlush();
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.resource.attributes['service.name']).toBe('svc');
    await tracing.shutdown();
    // after shutdown the API is a no-op again
    expect(traceContextFromEnv({ TRACEPARENT: traceparent })).toBeUndefined();
    expect(traceContextFromEnv({})).toBeUndefined();
  });
});
