/**
 * @module @orchestr8/observability
 * Telemetry for hosts of the orchestr8 engine (the CLI, the HTTP server, your own
 * process). The engine itself only uses `@opentelemetry/api`; this package brings the
 * rest: OTLP trace export configured by the standard `OTEL_*` variables, Prometheus
 * metrics as an `EngineObserver` (prom-client, private registry), and structured pino
 * logs with execution and step ids, secrets redacted.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { createServer } from '@orchestr8/server';
 * import {
 *   agentLogger, createLogger, createLogObserver, createMetrics, startTracing, withAgentLogger,
 * } from '@orchestr8/observability';
 *
 * const tracing = await startTracing(); // undefined unless OTEL_EXPORTER_OTLP_ENDPOINT (or similar) is set
 * const logger = createLogger({ level: 'info' });
 * const metrics = createMetrics({ defaultMetrics: true });
 * const engine = createEngine({
 *   registry: withAgentLogger(registry, logger),
 *   logger: agentLogger(logger),
 *   observers: [metrics.observer, createLogObserver(logger)],
 * });
 * metrics.collect(engine);
 * await createServer({ engine, registry, metrics }).listen(8088);
 * // on shutdown: await tracing?.shutdown();
 */
export * from './logs.js';
export { createMetrics, type Metrics, type MetricsOptions, NO_AGENT } from './metrics.js';
export * from './traces.js';
