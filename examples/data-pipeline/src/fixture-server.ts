/**
 * A small local data API for the example: `GET /users`, `/orders` and `/reviews` return
 * JSON; the sources named in `failing` answer 503, so the pipeline has something to
 * survive. Listens on 127.0.0.1 only. Run on its own with `pnpm fixture` (port 8091).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DATA = {
  users: [
    { id: 1, name: 'Ada', country: 'UK' },
    { id: 2, name: 'Grace', country: 'US' },
    { id: 3, name: 'Edsger', country: 'NL' },
    { id: 4, name: 'Barbara', country: 'US' },
  ],
  orders: [
    { id: 101, userId: 1, total: 120.5 },
    { id: 102, userId: 2, total: 80 },
    { id: 103, userId: 1, total: 42.25 },
    { id: 104, userId: 4, total: 310 },
    { id: 105, userId: 3, total: 19.99 },
  ],
  reviews: [
    { orderId: 101, rating: 5 },
    { orderId: 102, rating: 4 },
    { orderId: 104, rating: 3 },
  ],
} as const;

export type Source = keyof typeof DATA;

export interface FixtureServer {
  url: string;
  /** Requests served, e.g. "GET /users 200". */
  log: string[];
  close(): Promise<void>;
}

export function startFixtureServer(
  options: { port?: number; failing?: readonly string[] } = {},
): Promise<FixtureServer> {
  const failing = new Set(options.failing ?? []);
  const log: string[] = [];
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.slice(1);
    const send = (status: number, body: unknown) => {
      log.push(`${req.method} /${name} ${status}`);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || !(name in DATA))
      return send(404, { error: `no route ${req.method} ${req.url}` });
    if (failing.has(name)) return send(503, { error: `${name} service unavailable` });
    send(200, DATA[name as Source]);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        log,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

// `pnpm fixture`: serve until Ctrl-C.
if (import.meta.url === `file://${process.argv[1]}`) {
  const fixture = await startFixtureServer({ port: 8091, failing: process.argv.slice(2) });
  process.stdout.write(`fixture data API on ${fixture.url} (GET /users, /orders, /reviews)\n`);
}
