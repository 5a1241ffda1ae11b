/**
 * Trace export for the commands that run workflows. On when the standard OTEL_* variables
 * ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT`, see @orchestr8/observability); otherwise the
 * OpenTelemetry SDK is not even loaded and the engine's tracing stays a no-op.
 */
import { readFileSync } from 'node:fs';
import type { Context } from '@opentelemetry/api';
import type { Logger } from '@orchestr8/observability/logs';
import { startTracing, traceContextFromEnv, tracingConfigFromEnv } from '@orchestr8/observability/traces';

export interface Telemetry {
  /** `TRACEPARENT` from the environment, to continue a parent process's trace. */
  readonly traceContext: Context | undefined;
  /** Exports what is left (bounded by `timeoutMs`, default 5 s) and unregisters. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const off: Telemetry = { traceContext: undefined, shutdown: async () => {} };

/**
 * `exportTimeoutMs`: how long one export may take, retries included, unless
 * OTEL_EXPORTER_OTLP_TIMEOUT says otherwise (`run` and `resume` use less than the 10 s
 * default, so an unreachable collector does not hold up their exit).
 */
export async function setupTelemetry(
  logger: Logger,
  options: { exportTimeoutMs?: number } = {},
): Promise<Telemetry> {
  const config = tracingConfigFromEnv();
  if (!config.enabled) {
    if (config.problem) logger.warn(`traces are not exported: ${config.problem}`);
    return off;
  }
  const tracing = await startTracing({
    serviceVersion: cliVersion(),
    ...(options.exportTimeoutMs !== undefined ? { exportTimeoutMs: options.exportTimeoutMs } : {}),
    onDiagnostic: (level, message) => logger[level]({ component: 'opentelemetry' }, message),
  });
  if (!tracing) return off;
  const started = tracing;
  logger.debug(
    { endpoint: config.endpoint, protocol: config.protocol, serviceName: config.serviceName },
    'exporting traces over OTLP',
  );
  let stopping: Promise<void> | undefined;
  return {
    traceContext: traceContextFromEnv(),
    shutdown(timeoutMs = 5000) {
      stopping ??= stop(timeoutMs);
      return stopping;
    },
  };

  async function stop(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        logger.warn(`traces were not all exported within ${timeoutMs} ms`);
        resolve();
      }, timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([started.shutdown(), timeout]);
    } catch (e) {
      logger.warn({ err: e }, 'exporting traces failed');
    } finally {
      clearTimeout(timer);
    }
  }
}

function cliVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version;
  } catch {
    return undefined;
  }
}
