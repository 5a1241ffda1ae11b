/**
 * Where the network agents (http, remote, llm) may connect. Documents are untrusted, so by
 * default they reach public addresses only; the operator admits more with
 * `capabilities.egress.allow`. The check sits in the connection's dispatcher, on the address
 * the socket actually connects to (after DNS, for every redirect hop), so neither a name
 * that resolves to a private address nor a redirect to one gets past it.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ErrorCode, TerminalError, ValidationError } from '@orchestr8/common';
import { Agent, buildConnector, type Dispatcher } from 'undici';

/** How the operator admits a destination; part of every refusal message. */
export const EGRESS_GRANT =
  'add it to capabilities.egress.allow in orchestr8.config, or --allow-egress <host|cidr>';

/** Resolves a host name to every address a connection may use (the system resolver by default). */
export type EgressResolver = (
  hostname: string,
  options: { family?: number; hints?: number },
) => Promise<readonly LookupAddress[]>;

type Family = 'ipv4' | 'ipv6';

/**
 * Special-purpose ranges (IANA's IPv4 and IPv6 registries) that are not public destinations.
 * IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses are judged by the IPv4
 * address they carry, so they are not listed; the rest of ::/8 is.
 */
const SPECIAL: readonly (readonly [cidr: string, kind: string])[] = [
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['169.254.0.0/16', 'link-local'],
  ['100.64.0.0/10', 'shared (CGNAT)'],
  ['224.0.0.0/4', 'multicast'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'reserved (documentation)'],
  ['192.88.99.0/24', 'reserved'],
  ['198.18.0.0/15', 'reserved (benchmarking)'],
  ['198.51.100.0/24', 'reserved (documentation)'],
  ['203.0.113.0/24', 'reserved (documentation)'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
  ['::/8', 'reserved'],
  ['64:ff9b:1::/48', 'reserved'],
  ['100::/64', 'reserved'],
  ['2001::/23', 'reserved'],
  ['2001:db8::/32', 'reserved (documentation)'],
  ['2002::/16', 'reserved (6to4)'],
  ['3fff::/20', 'reserved (documentation)'],
  ['fec0::/10', 'reserved (site-local)'],
];

/**
 * One BlockList per kind and family. A BlockList matches IPv4 addresses against IPv6 rules
 * through their mapped form, so an address is only ever checked against its own family's.
 */
const special: Record<Family, [kind: string, list: BlockList][]> = { ipv4: [], ipv6: [] };
for (const [cidr, kind] of SPECIAL) {
  const [ip, bits] = cidr.split('/') as [string, string];
  const family = familyOf(ip)!;
  let entry = special[family].find(([k]) => k === kind);
  if (entry === undefined) {
    entry = [kind, new BlockList()];
    special[family].push(entry);
  }
  entry[1].addSubnet(ip, Number(bits), family);
}

function familyOf(ip: string): Family | undefined {
  const n = isIP(ip);
  return n === 4 ? 'ipv4' : n === 6 ? 'ipv6' : undefined;
}

/** The eight 16-bit words of a valid IPv6 address (a trailing dotted quad included). */
function ipv6Words(address: string): number[] {
  let text = address;
  let quad: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    quad = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, dotted.index);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const [head = '', tail] = text.split('::');
  const left = words(head);
  const right = [...words(tail ?? ''), ...quad];
  const gap = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...new Array<number>(gap).fill(0), ...right];
}

/** The IPv4 address inside an IPv4-mapped or NAT64 (RFC 6052 well-known prefix) address. */
function embeddedIpv4(address: string): string | undefined {
  const w = ipv6Words(address);
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const mapped = zero(0, 5) && w[5] === 0xffff;
  const nat64 = w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6);
  if (!mapped && !nat64) return undefined;
  const [hi, lo] = [w[6]!, w[7]!];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** What kind of non-public address this is; undefined for a public one. */
function specialRange(address: string): string | undefined {
  const family = familyOf(address);
  if (family === undefined) return 'invalid';
  if (family === 'ipv6') {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return specialRange(v4);
  }
  return special[family].find(([, list]) => list.check(address, family))?.[0];
}

interface Policy {
  names: ReadonlySet<string>;
  /** From `*.svc.local` entries: `.svc.local`. */
  suffixes: readonly string[];
  addresses: Record<Family, BlockList>;
}

const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function normalHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/**
 * Reads an allow list (`capabilities.egress.allow`); throws VALIDATION naming the entries
 * that are neither `*`, an IP address, a CIDR range nor a host name (`*.suffix` allowed).
 */
function parsePolicy(allow: readonly string[]): Policy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const addresses: Record<Family, BlockList> = { ipv4: new BlockList(), ipv6: new BlockList() };
  const bad: string[] = [];
  for (const raw of allow) {
    const entry = normalHost(String(raw));
    if (entry === '*') continue;
    const [ip = '', bits, ...rest] = entry.split('/');
    const family = familyOf(ip);
    const max = family === 'ipv4' ? 32 : 128;
    if (family !== undefined && bits === undefined) {
      addresses[family].addAddress(ip, family);
    } else if (family !== undefined && rest.length === 0 && /^\d{1,3}$/.test(bits!) && Number(bits) <= max) {
      addresses[family].addSubnet(ip, Number(bits), family);
    } else if (bits === undefined && HOST_NAME.test(entry)) {
      if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
      else names.add(entry);
    } else {
      bad.push(raw);
    }
  }
  if (bad.length > 0) {
    throw new ValidationError(
      `capabilities.egress.allow: ${bad.map((b) => JSON.stringify(b)).join(', ')} is not "*", an IP address, a CIDR range or a host name`,
      { details: { invalid: bad } },
    );
  }
  return { names, suffixes, addresses };
}

/** Checks an allow list the way the agents will read it, so a host can refuse bad configuration at start. */
export function checkEgressAllow(allow: readonly string[]): void {
  parsePolicy(allow);
}

function vouched(policy: Policy, host: string): boolean {
  const h = normalHost(host);
  return policy.names.has(h) || policy.suffixes.some((s) => h.endsWith(s));
}

function admitted(policy: Policy, address: string): boolean {
  const family = familyOf(address)!;
  if (policy.addresses[family].check(address, family)) return true;
  const v4 = family === 'ipv6' ? embeddedIpv4(address) : undefined;
  return v4 !== undefined && policy.addresses.ipv4.check(v4, 'ipv4');
}

/** The EGRESS_DENIED error for connecting `host` at `address`, or undefined when allowed. */
function refusal(policy: Policy, host: string, address: string): TerminalError | undefined {
  const ip = address.replace(/%.*$/, ''); // an IPv6 zone id is not part of the address
  const kind = specialRange(ip);
  if (kind === undefined || admitted(policy, ip)) return undefined;
  const destination = host === ip ? ip : `${host} (${ip})`;
  return new TerminalError(
    `connecting to ${destination} is refused: ${ip} is a ${kind} address, and documents reach ` +
      `only public addresses unless the operator allows more: ${EGRESS_GRANT}`,
    { code: ErrorCode.EGRESS_DENIED, details: { host, address: ip, range: kind } },
  );
}

/**
 * Why a URL whose host is written as an IP address (or `localhost`) may not be reached under
 * `allow`, without the hint, or undefined. Host names are checked when they are resolved, at
 * connection time; this lets a literal address be refused before a run.
 */
export function literalAddressRefusal(allow: readonly string[], url: string): string | undefined {
  let host: string;
  try {
    host = normalHost(new URL(url).hostname);
  } catch {
    return undefined;
  }
  const policy = parsePolicy(allow);
  if (allow.includes('*')) return undefined;
  if (host === 'localhost') {
    if (vouched(policy, host) || admitted(policy, '127.0.0.1') || admitted(policy, '::1')) return undefined;
    return `connecting to ${host} is refused: it is a loopback name, and documents reach only public addresses unless the operator allows more`;
  }
  if (familyOf(host) === undefined) return undefined;
  const refused = refusal(policy, host, host);
  return refused?.message.replace(`: ${EGRESS_GRANT}`, '');
}

const systemResolver: EgressResolver = (hostname, options) =>
  dns.lookup(hostname, {
    all: true,
    family: options.family === 4 || options.family === 6 ? options.family : 0,
    ...(options.hints === undefined ? {} : { hints: options.hints }),
  });

/**
 * A `lookup` for net.connect that resolves and, unless the operator vouches for the name,
 * refuses the connection when any address is not allowed (a name that resolves to a private
 * address is as dangerous as the address); the socket then connects to the very addresses
 * checked, so a second resolution cannot swap them.
 */
function checkingLookup(policy: Policy, resolve: EgressResolver): LookupFunction {
  return ((
    hostname: string,
    options: { family?: number; hints?: number; all?: boolean },
    callback: (error: Error | null, address?: unknown, family?: number) => void,
  ) => {
    resolve(hostname, options).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
        const addresses = found.filter((a) => wanted === undefined || a.family === wanted);
        const first = addresses[0];
        if (first === undefined) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
          return;
        }
        if (!vouched(policy, hostname)) {
          for (const a of addresses) {
            const refused = refusal(policy, hostname, a.address);
            if (refused) return callback(refused);
          }
        }
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error),
    );
  }) as unknown as LookupFunction;
}

function egressConnector(policy: Policy, resolve: EgressResolver): buildConnector.connector {
  const connect = buildConnector({ lookup: checkingLookup(policy, resolve) });
  return (options, callback) => {
    const host = normalHost(options.hostname);
    // An IP literal needs no lookup: it is judged here, before any socket exists.
    const refused = isIP(host) === 0 ? undefined : refusal(policy, host, host);
    if (refused) return callback(refused, null);
    return connect(options, callback);
  };
}

/** One pooled dispatcher per resolver and allow list; policies come from operator configuration, so they are few. */
const dispatchers = new WeakMap<EgressResolver, Map<string, Dispatcher>>();

/**
 * The dispatcher to pass to `fetch` (`{dispatcher}`) so its connections obey `allow`
 * (`ctx.capabilities.egress.allow`): undefined when `allow` contains `"*"` (no check).
 * Connections are pooled (keep-alive) per dispatcher, as with the default one. A refused
 * connection makes fetch fail with a cause whose code is EGRESS_DENIED (never retryable).
 */
export function egressDispatcher(
  allow: readonly string[],
  resolve: EgressResolver = systemResolver,
): Dispatcher | undefined {
  if (allow.includes('*')) return undefined;
  const key = [...new Set(allow.map(normalHost))].sort().join(' ');
  let byPolicy = dispatchers.get(resolve);
  if (byPolicy === undefined) {
    byPolicy = new Map();
    dispatchers.set(resolve, byPolicy);
  }
  let dispatcher = byPolicy.get(key);
  if (dispatcher === undefined) {
    dispatcher = new Agent({ connect: egressConnector(parsePolicy(allow), resolve) });
    byPolicy.set(key, dispatcher);
  }
  return dispatcher;
}
