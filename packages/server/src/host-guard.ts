/**
 * Refuses requests a web page could make to a server it should not reach (a keyless one on
 * loopback, above all): a `Host` that is not allowed (DNS rebinding, see allowed-hosts.ts),
 * and a browser's `Origin` that is neither this server's own nor a CORS origin. The Origin
 * check matters because a cross-site `POST` with a "simple" content type needs no preflight:
 * without it, any page the developer opens could start an execution. Requests without an
 * `Origin` (curl, other servers) are not browsers' and pass; so do requests without a `Host`
 * (HTTP/1.0), which browsers never send.
 */
import type { RequestHandler } from 'express';
import { type AllowedHosts, parseHost } from './allowed-hosts.js';
import { singleHeader } from './http.js';
import { HttpProblem, ProblemCode } from './problem.js';

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Whether `origin` is the origin the page used to reach this server through `host`. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  const h = parseHost(host);
  // The scheme is not compared: behind a TLS-terminating proxy the page is https, the Host the same.
  if (!defaultPort || !h || url.origin !== origin.toLowerCase().replace(/\/$/, '')) return false;
  return url.hostname.replace(/\.$/, '') === h.name && (url.port || defaultPort) === (h.port || defaultPort);
}

const shown = (value: string) => JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value);

export function hostGuard(hosts: AllowedHosts, corsOrigins: readonly string[] | '*' = []): RequestHandler {
  const anyCors = corsOrigins === '*' || corsOrigins.includes('*');
  const cors = new Set(corsOrigins === '*' ? [] : corsOrigins);
  return (req, _res, next) => {
    // Node keeps the first of two Hosts; a proxy may act on another (RFC 9112 3.2: 400).
    const host = singleHeader(req, 'host', 'Host');
    if (host !== undefined && !hosts.allows(host)) {
      const name = parseHost(host)?.name;
      return next(
        new HttpProblem(
          403,
          ProblemCode.HOST_NOT_ALLOWED,
          name === undefined
            ? `the Host header ${shown(host)} is malformed`
            : `the host ${shown(name)} is not allowed: this server answers to localhost, IP addresses and the ` +
                `names it is given. To allow it, start the server with --allowed-hosts ${name} ` +
                `(or ORCHESTR8_ALLOWED_HOSTS=${name})`,
          { host },
        ),
      );
    }
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (origin === 'null') {
      return next(
        new HttpProblem(
          403,
          ProblemCode.ORIGIN_NOT_ALLOWED,
          'requests with "Origin: null" (sandboxed pages, local files, redirects) are not allowed',
          { origin },
        ),
      );
    }
    if (anyCors || cors.has(origin) || sameOrigin(origin, host)) return next();
    next(
      new HttpProblem(
        403,
        ProblemCode.ORIGIN_NOT_ALLOWED,
        `requests from the origin ${shown(origin)} are not allowed: only this server's own pages may call it, ` +
          'and the origins given with --cors-origin',
        { origin },
      ),
    );
  };
}
