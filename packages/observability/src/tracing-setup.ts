import {
  type Context,
  context,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

type Env = Readonly<Record<string, string | undefined>>;

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export interface TracingConfig {
  /** True when the environment asks for OTLP export. */
  enabled: boolean;
  /** Why export is off (for a debug line). */
  reason?: string;
  /** Set when the settings ask for something unsupported (worth a warning). */
  problem?: string;
  protocol: OtlpProtocol;
  /** Where spans go (what the exporter will use; for a log line). */
  endpoint: string;
  serviceName: string;
}

const truthy = (v: string | undefined) => v !== undefined && v.trim().toLowerCase() === 'true';
const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * Reads the standard OpenTelemetry variables. Export is on when an OTLP endpoint is set
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or
 * `OTEL_TRACES_EXPORTER=otlp` asks for the default one (http://localhost:4318), and off
 * with `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`. The protocol is
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`
 * (the default) or `http/json`; `grpc` is not supported.
 */
export function tracingConfigFromEnv(env: Env = process.env): TracingConfig {
  const serviceName =
    nonEmpty(env.OTEL_SERVICE_NAME) ??
    nonEmpty(parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES)['service.name']) ??
    'orchestr8';
  const specific = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const general = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const endpoint =
    specific ?? (general ? `${general.replace(/\/+$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces');
  const rawProtocol = (
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ??
    nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ??
    'http/protobuf'
  ).toLowerCase();
  const base = { serviceName, endpoint, protocol: 'http/protobuf' as OtlpProtocol };
  const off = (reason: string, problem?: boolean): TracingConfig => ({
    ...base,
    enabled: false,
    reason,
    ...(problem ? { problem: reason } : {}),
  });
  if (truthy(env.OTEL_SDK_DISABLED)) return off('OTEL_SDK_DISABLED is true');
  const exporters = nonEmpty(env.OTEL_TRACES_EXPORTER)
    ?.toLowerCase()
    .split(',')
    .map((s) => s.trim());
  if (exporters?.includes('none')) return off('OTEL_TRACES_EXPORTER is none');
  if (exporters !== undefined && !exporters.includes('otlp'))
    return off(`OTEL_TRACES_EXPORTER "${exporters.join(',')}" is not supported (only otlp)`, true);
  if (exporters === undefined && specific === undefined && general === undefined)
    return off('no OTLP endpoint is set');
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(rawProtocol)) {
    return off(`OTLP protocol "${rawProtocol}" is not supported: use http/protobuf or http/json`, true);
  }
  return { ...base, enabled: true, protocol: rawProtocol as OtlpProtocol };
}

export interface StartTracingOptions {
  /** Default process.env. The exporter itself reads endpoint, headers, timeout, certificates from process.env. */
  env?: Env;
  /** Overrides OTEL_SERVICE_NAME (default `orchestr8`). */
  serviceName?: string;
  serviceVersion?: string;
  /** Export here instead of OTLP (tests, benchmarks); tracing starts whatever the environment says. */
  exporter?: SpanExporter;
  /**
   * The exporter's timeout (retries included) when OTEL_EXPORTER_OTLP_TRACES_TIMEOUT and
   * OTEL_EXPORTER_OTLP_TIMEOUT are not set; the exporter's default is 10 s. Short-lived
   * commands use less, so an unreachable collector does not hold up their exit.
   */
  exportTimeoutMs?: number;
  /** Default `batch` (OTEL_BSP_* apply); `simple` exports each span as it ends. */
  processor?: 'batch' | 'simple';
  /** Where OpenTelemetry's own warnings and errors go (an unreachable collector, say). */
  onDiagnostic?: (level: 'warn' | 'error', message: string) => void;
}

export interface Tracing {
  readonly config: TracingConfig;
  /** Exports the spans ended so far. */
  forceFlush(): Promise<void>;
  /** Flushes, then unregisters the global provider, context manager and propagator. */
  shutdown(): Promise<void>;
}

/**
 * Registers a global tracer provider (so the engine's spans are recorded), an
 * AsyncLocalStorage context manager (so an agent's outgoing calls see its attempt span)
 * and the W3C trace-context and baggage propagators, exporting over OTLP/HTTP. Resolves
 * to undefined, having registered nothing, when the environment does not ask for export
 * and no `exporter` is given. The SDK is imported only then.
 */
export async function startTracing(options: StartTracingOptions = {}): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  const config = tracingConfigFromEnv(env);
  if (options.serviceName !== undefined) config.serviceName = options.serviceName;
  if (!config.enabled && options.exporter === undefined) return undefined;

  const [sdk, hooks, core, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);
  let exporter = options.exporter;
  if (exporter === undefined) {
    const { OTLPTraceExporter } =
      config.protocol === 'http/json'
        ? await import('@opentelemetry/exporter-trace-otlp-http')
        : await import('@opentelemetry/exporter-trace-otlp-proto');
    const timeoutSet =
      nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) !== undefined ||
      nonEmpty(env.OTEL_EXPORTER_OTLP_TIMEOUT) !== undefined;
    exporter = new OTLPTraceExporter(
      options.exportTimeoutMs !== undefined && !timeoutSet ? { timeoutMillis: options.exportTimeoutMs } : {},
    );
  }
  if (options.onDiagnostic) {
    const report = options.onDiagnostic;
    const fmt = (message: string, args: unknown[]) =>
      [message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(' ');
    diag.setLogger(
      {
        error: (m, ...a) => report('error', fmt(m, a)),
        warn: (m, ...a) => report('warn', fmt(m, a)),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }

  const num = (name: string) => {
    const v = nonEmpty(env[name]);
    const n = v === undefined ? Number.NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const processor: SpanProcessor =
    options.processor === 'simple'
      ? new sdk.SimpleSpanProcessor({ exporter })
      : new sdk.BatchSpanProcessor({
          exporter,
          ...defined({
            scheduledDelayMillis: num('OTEL_BSP_SCHEDULE_DELAY'),
            exportTimeoutMillis: num('OTEL_BSP_EXPORT_TIMEOUT'),
            maxQueueSize: num('OTEL_BSP_MAX_QUEUE_SIZE'),
            maxExportBatchSize: num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
          }),
        } as ConstructorParameters<typeof sdk.BatchSpanProcessor>[0]);

  const attributes: Record<string, string> = {
    ...parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES),
    'service.name': config.serviceName,
  };
  if (options.serviceVersion !== undefined) attributes['service.version'] ??= options.serviceVersion;
  const resource = resources.defaultResource().merge(resources.resourceFromAttributes(attributes));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerFromEnv(sdk, env),
    spanProcessors: [processor],
  });

  const contextManager = new hooks.AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new core.CompositePropagator({
      propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(provider);

  let stopped = false;
  return {
    config,
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
        if (options.onDiagnostic) diag.disable();
      }
    },
  };
}

/**
 * The context to continue from a W3C `traceparent` (and `tracestate`) in the environment,
 * as CI systems and parent processes pass it; undefined when there is none.
 */
export function traceContextFromEnv(env: Env = process.env): Context | undefined {
  const traceparent = nonEmpty(env.TRACEPARENT);
  if (traceparent === undefined) return undefined;
  const carrier: Record<string, string> = { traceparent };
  const tracestate = nonEmpty(env.TRACESTATE);
  if (tracestate !== undefined) carrier.tracestate = tracestate;
  const ctx = propagation.extract(ROOT_CONTEXT, carrier);
  return trace.getSpanContext(ctx) === undefined ? undefined : ctx;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value`, values percent-encoded. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const key = pair.slice(0, i).trim();
    try {
      out[key] = decodeURIComponent(pair.slice(i + 1).trim());
    } catch {
      out[key] = pair.slice(i + 1).trim();
    }
  }
  return out;
}

/** `OTEL_TRACES_SAMPLER` (+ `_ARG`); the default is parentbased_always_on. */
function samplerFromEnv(sdk: typeof import('@opentelemetry/sdk-trace'), env: Env): Sampler {
  const name = nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase() ?? 'parentbased_always_on';
  const arg = Number(nonEmpty(env.OTEL_TRACES_SAMPLER_ARG) ?? '1');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio) });
    default:
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}
