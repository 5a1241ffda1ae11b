/**
 * Logs of the commands that run workflows: pino, to stderr; pretty on a terminal, JSON
 * lines elsewhere. The level is `--log-level`, else `$ORCHESTR8_LOG_LEVEL`, else the
 * command's default (`run` and `resume` warn, their live view shows the rest; `serve` info).
 */

import type { AgentRegistry, EngineOptions } from '@orchestr8/core';
import {
  agentLogger,
  createLogger,
  createLogObserver,
  type Logger,
  type LogLevel,
  parseLogFormat,
  parseLogLevel,
  withAgentLogger,
} from '@orchestr8/observability/logs';
import type { ServerLogger } from '@orchestr8/server';

export interface LogOptions {
  logLevel?: string;
  logFormat?: string;
}

/** `.option(...logLevelOption('warn'))`: the `--log-level` flag, with the command's default level. */
export function logLevelOption(defaultLevel: LogLevel): [string, string] {
  return [
    '--log-level <level>',
    `trace, debug, info, warn, error, fatal or silent (default: $ORCHESTR8_LOG_LEVEL or ${defaultLevel})`,
  ];
}

export const LOG_FORMAT_OPTION: [string, string] = [
  '--log-format <format>',
  'auto (pretty on a terminal, else JSON lines), json or pretty (default: $ORCHESTR8_LOG_FORMAT or auto)',
];

/** The logger the flags and environment ask for, or a usage error. */
export function openLogger(
  opts: LogOptions,
  defaultLevel: LogLevel,
  /** Default standard error; e.g. an `AboveView`, so logs print above a live view. */
  destination?: { write(chunk: string): unknown; isTTY?: boolean },
): Logger | { usage: string } {
  const rawLevel = opts.logLevel ?? process.env.ORCHESTR8_LOG_LEVEL;
  const level = rawLevel === undefined || rawLevel.trim() === '' ? defaultLevel : parseLogLevel(rawLevel);
  if (level === undefined) {
    const from = opts.logLevel !== undefined ? '--log-level' : 'ORCHESTR8_LOG_LEVEL';
    return { usage: `${from} must be trace, debug, info, warn, error, fatal or silent, got "${rawLevel}"` };
  }
  const rawFormat = opts.logFormat ?? process.env.ORCHESTR8_LOG_FORMAT;
  const format = rawFormat === undefined || rawFormat.trim() === '' ? 'auto' : parseLogFormat(rawFormat);
  if (format === undefined) {
    const from = opts.logFormat !== undefined ? '--log-format' : 'ORCHESTR8_LOG_FORMAT';
    return { usage: `${from} must be auto, json or pretty, got "${rawFormat}"` };
  }
  return createLogger({ level, format, destination: destination ?? 2 });
}

/**
 * What `createEngine` takes to log: agents' `ctx.logger` bound to their step, and the
 * engine's events as lines (inputs and outputs left out).
 */
export function engineLogging(
  logger: Logger,
  registry: AgentRegistry,
): Pick<EngineOptions, 'registry' | 'logger' | 'observers'> {
  return {
    registry: withAgentLogger(registry, logger),
    logger: agentLogger(logger),
    observers: [createLogObserver(logger)],
  };
}

/** The HTTP server's logger: request lines and internal errors. */
export function serverLogger(logger: Logger): ServerLogger {
  return {
    info: (message, data) => (data === undefined ? logger.info(message) : logger.info(data, message)),
    error: (message, error, data) => logger.error({ ...data, err: error }, message),
  };
}
