/**
 * Logs of the commands that run workflows: pino, to stderr. The level is `--log-level`, else
 * `$ORCHESTR8_LOG_LEVEL`, else the command's default (`run` and `resume` warn, their live
 * view shows the rest; `serve` info). The format is `--log-format`, else
 * `$ORCHESTR8_LOG_FORMAT`, else pretty on a terminal or beside a live view (both are read by
 * people) and JSON lines otherwise.
 */

import type { AgentRegistry, EngineEvent, EngineOptions } from '@orchestr8/core';
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
  'auto (pretty on a terminal or beside the live view, else JSON lines), json or pretty (default: $ORCHESTR8_LOG_FORMAT or auto)',
];

/** The logger the flags and environment ask for, or a usage error. */
export function openLogger(
  opts: LogOptions,
  defaultLevel: LogLevel,
  /** Default standard error; e.g. an `AboveView`, so logs print above a live view. */
  destination?: { write(chunk: string): unknown; isTTY?: boolean },
  /** A live view shows the steps on the same stream: `auto` is then pretty, even off a terminal. */
  options: { liveView?: boolean } = {},
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
  const tty = Boolean(destination === undefined ? process.stderr.isTTY : destination.isTTY);
  const resolved = format === 'auto' ? (tty || options.liveView ? 'pretty' : 'json') : format;
  return createLogger({ level, format: resolved, destination: destination ?? 2 });
}

/**
 * What `createEngine` takes to log: agents' `ctx.logger` bound to their step, and the
 * engine's events as lines (inputs and outputs left out). With a live view, the events it
 * shows (steps, the execution's end, timeouts, which its rows show as the retry or failure
 * they cause) are not logged as well: one rendering per event.
 */
export function engineLogging(
  logger: Logger,
  registry: AgentRegistry,
  options: { liveView?: boolean } = {},
): Pick<EngineOptions, 'registry' | 'logger' | 'observers'> {
  const events = createLogObserver(logger);
  return {
    registry: withAgentLogger(registry, logger),
    logger: agentLogger(logger),
    observers: [
      options.liveView
        ? {
            onEvent(e: EngineEvent) {
              if (!shownByLiveView(e.type)) events.onEvent?.(e);
            },
          }
        : events,
    ],
  };
}

function shownByLiveView(type: string): boolean {
  return type.startsWith('step.') || type.startsWith('execution.') || type === 'timeout.exceeded';
}

/** The HTTP server's logger: request lines and internal errors. */
export function serverLogger(logger: Logger): ServerLogger {
  return {
    info: (message, data) => (data === undefined ? logger.info(message) : logger.info(data, message)),
    error: (message, error, data) => logger.error({ ...data, err: error }, message),
  };
}
