import type { DestinationStream } from 'pino';

/**
 * A tiny pino destination for terminals: `12:00:00.000 INFO  message key=value ...`,
 * in-process and synchronous (no worker thread, unlike pino-pretty's transport).
 */
export function createPrettyStream(
  out: { write(chunk: string): unknown },
  options: { color: boolean },
): DestinationStream {
  return { write: (line: string) => void out.write(formatLine(line, options.color)) };
}

const LEVEL_COLOR: Record<string, string> = {
  trace: '90',
  debug: '36',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '1;31',
};
const HIDDEN = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'name']);

export function formatLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const level = String(rec.level ?? 'info');
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  let out = `${paint('2', time)} ${paint(LEVEL_COLOR[level] ?? '0', level.toUpperCase().padEnd(5))} ${String(rec.msg ?? '')}`;
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { type?: string; message?: string; stack?: string; code?: string };
      out += ` ${paint('2', 'err=')}${e.code ? `${e.code}: ` : ''}${e.message ?? ''}`;
      if ((level === 'error' || level === 'fatal') && e.stack) stack = `\n${indent(e.stack)}`;
      continue;
    }
    out += ` ${paint('2', `${k}=`)}${value(v)}`;
  }
  return `${out}${stack}\n`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
