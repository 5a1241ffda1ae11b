/**
 * The `Host` names the server answers to. With DNS rebinding, a web page points a name it
 * controls at 127.0.0.1 and calls a local server as if it were its own origin; the browser
 * still sends that name in `Host`, so answering only known names stops it.
 *
 * Always allowed: `localhost` and `*.localhost` (they resolve to loopback) and IP literals
 * (an address cannot be rebound). Entries add exact names, `.example.com` (the name and its
 * subdomains) or `*.example.com` (its subdomains only); `*` answers any Host. Ports are not
 * matched: a Host names a machine, and only one server listens on a port.
 */
import { isIP } from 'node:net';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

export interface AllowedHosts {
  /** Whether every Host is allowed (`*`). */
  readonly any: boolean;
  /** Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) names this server. */
  allows(host: string): boolean;
  /** Also allows the name the server listens on, unless it is an address or a wildcard. */
  addBoundName(host: string): void;
}

const NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
/** Allowed `Host` values remembered, so a request's is not parsed again. */
const REMEMBERED_HOSTS = 256;

/**
 * The parts of a `Host` value, lower-case, without a trailing dot: `ip` for an IPv4 address
 * or a bracketed IPv6 one. Undefined when malformed (a browser never sends such a Host).
 */
export function parseHost(value: string): { name: string; port: string; ip: boolean } | undefined {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    const rest = v.slice(end + 1);
    if (end < 0 || isIP(v.slice(1, end)) !== 6 || !/^(?::\d{1,5})?$/.test(rest)) return undefined;
    return { name: v.slice(0, end + 1), port: rest.slice(1), ip: true };
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
  const name = m?.[1]?.replace(/\.$/, '');
  if (!m || !name || !NAME.test(name)) return undefined;
  return { name, port: m[2] ?? '', ip: isIP(name) === 4 };
}

type Rule = { kind: 'exact' | 'domain' | 'subdomains'; name: string };

function parseEntry(raw: string): Rule | '*' {
  const entry = raw.trim().toLowerCase();
  if (entry === '*') return '*';
  const bad = (why: string) =>
    new Orchestr8Error(ErrorCode.VALIDATION, `invalid allowed host "${raw}": ${why}`);
  if (entry.includes('/')) throw bad('give a host name such as example.com, not a URL');
  const kind = entry.startsWith('*.') ? 'subdomains' : entry.startsWith('.') ? 'domain' : 'exact';
  const rest = entry.slice(kind === 'subdomains' ? 2 : kind === 'domain' ? 1 : 0);
  const host = parseHost(rest);
  if (host?.port) throw bad('give it without a port (ports are not checked)');
  if (!host) {
    throw bad(
      rest.includes('*')
        ? 'a wildcard may only start an entry ("*.example.com")'
        : 'expected a host name, ".example.com" or "*.example.com"',
    );
  }
  return { kind, name: host.name };
}

/** `ORCHESTR8_ALLOWED_HOSTS`-style lists: comma-separated, blanks ignored; a malformed entry is a VALIDATION error. */
export function parseAllowedHosts(value: string | undefined): string[] {
  if (!value) return [];
  const entries = value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  for (const e of entries) parseEntry(e);
  return entries;
}

export function createAllowedHosts(entries: readonly string[] | '*' = []): AllowedHosts {
  const rules = (entries === '*' ? ['*'] : entries).map(parseEntry);
  const any = rules.includes('*');
  const exact = new Set<string>();
  const suffixes: { suffix: string; apex?: string }[] = [];
  for (const r of rules) {
    if (r === '*') continue;
    if (r.kind === 'exact') exact.add(r.name);
    else suffixes.push({ suffix: `.${r.name}`, apex: r.kind === 'domain' ? r.name : undefined });
  }
  // Clients send the same few Host values: those allowed are remembered (bounded; a refused
  // value is parsed each time, so hostile values cannot fill it).
  const allowed = new Set<string>();
  return {
    any,
    allows(value) {
      if (any || allowed.has(value)) return true;
      const host = parseHost(value);
      if (!host) return false;
      const { name } = host;
      const ok =
        host.ip ||
        name === 'localhost' ||
        name.endsWith('.localhost') ||
        exact.has(name) ||
        suffixes.some((s) => name === s.apex || name.endsWith(s.suffix));
      if (ok && allowed.size < REMEMBERED_HOSTS) allowed.add(value);
      return ok;
    },
    addBoundName(value) {
      const host = parseHost(value);
      // `0.0.0.0`, `::` and other addresses are IP literals, allowed already.
      if (host && !host.ip) exact.add(host.name);
    },
  };
}
