/**
 * @module @orchestr8/observability/traces
 * OTLP trace export configured by the standard OTEL_* variables. Imports only
 * `@opentelemetry/api` until `startTracing` finds export turned on; the SDK loads then.
 */
export {
  OTLP_PROTOCOLS,
  type OtlpProtocol,
  parseResourceAttributes,
  type StartTracingOptions,
  startTracing,
  type Tracing,
  type TracingConfig,
  traceContextFromEnv,
  tracingConfigFromEnv,
} from './tracing-setup.js';
