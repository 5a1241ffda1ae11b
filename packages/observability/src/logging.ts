import { context, trace } from '@opentelemetry/api';
import { type AgentLogger, REDACTED } from '@orchestr8/core';
import { type DestinationStream, type Logger, pino } from 'pino';
import { createPrettyStream } from './pretty.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `--log-format`: JSON lines, human-readable lines, or pretty on a terminal and JSON elsewhere. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A level name (any case), or undefined when it is not one. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  const v = value?.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v ?? '') ? (v as LogLevel) : undefined;
}

export function parseLogFormat(value: string | undefined): LogFormat | undefined {
  const v = value?.trim().toLowerCase();
  return (LOG_FORMATS as readonly string[]).includes(v ?? '') ? (v as LogFormat) : undefined;
}

/**
 * Field names whose values are never logged, at any depth (up to 6 levels), compared
 * case-insensitively: header names (`authorization`, `x-api-key`, `cookie`) and the
 * usual credential fields (`apiKey`, `password`, `token`, `clientSecret`...).
 */
export const SECRET_FIELDS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'api_key',
  'apikeys',
  'password',
  'passwd',
  'secret',
  'clientsecret',
  'client_secret',
  'token',
  'accesstoken',
  'access_token',
  'refreshtoken',
  'refresh_token',
  'idtoken',
  'id_token',
  'privatekey',
  'private_key',
];

const MAX_REDACT_DEPTH = 6;

/**
 * A copy of `value` with the values of secret fields replaced by `[redacted]`; objects
 * without secrets are returned as they are (never mutated). Plain objects and arrays are
 * walked; other instances (errors, buffers) are left to pino's serializers. (pino's own
 * `redact` needs a path per depth, and its wildcard paths cost ~70 µs a line.)
 */
export function redactSecrets(value: unknown, secret: ReadonlySet<string>, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_REDACT_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const r = redactSecrets(v, secret, depth + 1);
      if (r !== v) {
        out ??= value.slice();
        out[i] = r;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    const r = secret.has(k.toLowerCase())
      ? v === undefined
        ? v
        : REDACTED
      : redactSecrets(v, secret, depth + 1);
    if (r !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = r;
    }
  }
  return out ?? value;
}

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /** Default `auto`: pretty when the destination is a terminal, JSON lines otherwise. */
  format?: LogFormat;
  /** A file descriptor (default 2, stderr) or a stream (JSON lines are written to it). */
  destination?: number | { write(chunk: string): unknown; isTTY?: boolean };
  /** Colours in the pretty format. Default: on a terminal unless NO_COLOR is set. */
  color?: boolean;
  /** More field names to redact (any case), on top of SECRET_FIELDS. */
  redact?: readonly string[];
  /** Bound to every line (e.g. `{ service: 'orchestr8' }`). */
  base?: Record<string, unknown>;
}

/**
 * A pino logger: JSON lines with an ISO `time` and a `level` name; secret fields redacted;
 * `trace_id` and `span_id` of the active span added when tracing is on. `pretty` writes
 * `12:00:00.000 INFO  message key=value` instead.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const dest = options.destination ?? 2;
  const stream = typeof dest === 'number' ? (dest === 1 ? process.stdout : process.stderr) : dest;
  const tty = Boolean((stream as { isTTY?: boolean }).isTTY);
  const format = options.format ?? 'auto';
  const secret = new Set([...SECRET_FIELDS, ...(options.redact ?? [])].map((f) => f.toLowerCase()));
  const pretty = format === 'pretty' || (format === 'auto' && tty);
  let destination: DestinationStream;
  if (pretty) {
    const color = options.color ?? (tty && !process.env.NO_COLOR);
    destination = createPrettyStream(stream, { color });
  } else if (typeof dest === 'number') {
    destination = pino.destination({ dest, sync: true });
  } else {
    destination = dest as DestinationStream;
  }
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => redactSecrets(obj, secret) as Record<string, unknown>,
      },
      mixin: traceMixin,
    },
    destination,
  );
}

/** The active span's ids, so log lines join the trace they were written in. */
function traceMixin(): Record<string, string> {
  const sc = trace.getSpanContext(context.active());
  return sc === undefined ? {} : { trace_id: sc.traceId, span_id: sc.spanId };
}

/** The engine's `AgentLogger` (`logger.info(message, data)`) writing to pino (`info(data, message)`). */
export function agentLogger(logger: Logger): AgentLogger {
  return {
    debug: (message, data) => (data === undefined ? logger.debug(message) : logger.debug(data, message)),
    info: (message, data) => (data === undefined ? logger.info(message) : logger.info(data, message)),
    warn: (message, data) => (data === undefined ? logger.warn(message) : logger.warn(data, message)),
    error: (message, data) => (data === undefined ? logger.error(message) : logger.error(data, message)),
  };
}
