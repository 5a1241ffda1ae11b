/**
 * @module @orchestr8/observability/logs
 * Structured pino logs for orchestr8 hosts, without the metrics and tracing parts (a
 * lighter import for short-lived commands).
 */
export { bindAgentLogger, withAgentLogger } from './agent-logging.js';
export { createLogObserver, type LogObserverOptions } from './log-observer.js';
export {
  agentLogger,
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  parseLogFormat,
  parseLogLevel,
  redactSecrets,
  SECRET_FIELDS,
} from './logging.js';
export { formatLine as formatPrettyLine } from './pretty.js';
