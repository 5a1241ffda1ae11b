/**
 * @module @orchestr8/testing/http
 * HTTP mocks for agents that call HTTP services (`@orchestr8/http`, your own `fetch`
 * calls), built on msw (a peer dependency: install `msw` 2 next to this package). A request
 * no handler answers is an error: the agent's call fails and the request is listed in
 * `server.unhandled`, so a test never reaches a real service by accident.
 *
 * @example
 * import { http, HttpResponse, withHttpMocks } from '@orchestr8/testing/http';
 * const server = withHttpMocks([
 *   http.get('https://api.example.com/users/:id', ({ params }) => HttpResponse.json({ id: params.id })),
 * ]);
 * afterAll(() => server.close());
 */
import type { RequestHandler, WebSocketHandler } from 'msw';
import { type SetupServer, setupServer } from 'msw/node';

export { HttpResponse, http } from 'msw';

export interface HttpMockServer extends SetupServer {
  /** Requests no handler answered ("GET https://..."), in order. */
  readonly unhandled: string[];
}

export interface HttpMockOptions {
  /** Requests to let through to the network (e.g. a local fixture server). Default: none. */
  bypass?: (url: URL) => boolean;
}

/** Starts an msw server with these handlers; unhandled requests fail. Call `close()` when done. */
export function withHttpMocks(
  handlers: readonly (RequestHandler | WebSocketHandler)[],
  options: HttpMockOptions = {},
): HttpMockServer {
  const server = setupServer(...handlers);
  const unhandled: string[] = [];
  server.listen({
    onUnhandledRequest(request, print) {
      if (options.bypass?.(new URL(request.url))) return;
      unhandled.push(`${request.method} ${request.url}`);
      print.error();
    },
  });
  return Object.assign(server, { unhandled });
}
