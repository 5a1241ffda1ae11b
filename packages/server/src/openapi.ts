/**
 * The OpenAPI 3.1 description of the API, served at `/openapi.json`, generated from the route
 * contracts (contracts/*.ts) plus what every route shares (problems, security schemes). A test
 * validates it with an OpenAPI validator and checks that its paths and methods are exactly
 * the routes the server registers.
 */
import type { RouteContract } from './contracts/contract.js';
import { generatePaths } from './contracts/generate.js';
import { serverContracts } from './contracts/index.js';
import { mcpContracts, streamContracts, triggerContracts } from './contracts/routers.js';

type Json = Record<string, unknown>;

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });

const TAGS = [
  { name: 'Executions', description: 'Start, list, read, follow and cancel executions' },
  { name: 'Operations', description: 'Retry, rerun and resume executions' },
  { name: 'Workflows', description: 'Register, read and validate workflow documents' },
  { name: 'Waits and events', description: 'Events, signals, approvals and event streams' },
  { name: 'System', description: 'Health, readiness, this document, metrics and workers' },
  { name: 'Triggers', description: 'Served by @orchestr8/triggers: webhooks and trigger operations' },
  { name: 'MCP', description: 'Served by @orchestr8/mcp' },
  { name: 'Streams', description: 'Served by @orchestr8/streams (`orchestr8 serve --stream`)' },
];

/** Contracts of a list, each method and path once: a later one replaces an earlier one. */
function byOperation(contracts: readonly RouteContract[]): RouteContract[] {
  const out = new Map<string, RouteContract>();
  for (const c of contracts) out.set(`${c.method} ${c.path}`, c);
  return [...out.values()];
}

/**
 * The document. `contracts`: those of routers mounted beside the server's own routes
 * (`ServerOptions.routers`); a router's contract replaces a built-in description of the same
 * method and path.
 */
export function openApiDocument(contracts: readonly RouteContract[] = []): Json {
  const generated = generatePaths(
    byOperation([...serverContracts, ...triggerContracts, ...mcpContracts, ...streamContracts, ...contracts]),
  );
  // Node's parser answers any path so, before routing.
  for (const ops of Object.values(generated.paths))
    for (const op of Object.values(ops))
      (op.responses as Json)['431'] ??= { $ref: '#/components/responses/HeadersTooLarge' };
  return {
    openapi: '3.1.0',
    info: {
      title: 'orchestr8 API',
      version: '0.1.0',
      description:
        'Run and observe orchestr8 workflows over HTTP. Errors are RFC 9457 problem details with a stable `code`. ' +
        'Any path answers 405 (with Allow) for a method it does not support, and 404 for unknown paths. ' +
        'API keys (Authorization: Bearer or X-API-Key) are required when the server binds a non-loopback address. ' +
        'Host and Origin checks: every request, health checks included, must name the server in `Host` as ' +
        '`localhost`, a `*.localhost` name, an IP address, the host name it listens on (`--host`), or a name given with ' +
        '`--allowed-hosts` or `ORCHESTR8_ALLOWED_HOSTS` (`name`; `.domain` for the domain and its subdomains; ' +
        '`*.domain` for its subdomains only; `*` for any Host); the port is not compared. Any other Host gets 403 ' +
        '`HOST_NOT_ALLOWED`: a web page cannot reach a local server through DNS rebinding. A request with an ' +
        "`Origin` (browsers send one) must come from the server's own origin (the `Origin` host and port are the " +
        "`Host`'s; the scheme is not compared, for TLS-terminating proxies) or from an origin given with " +
        '`--cors-origin`; any other origin, and `Origin: null`, gets 403 `ORIGIN_NOT_ALLOWED` whatever the method, ' +
        'so a page on another site cannot start or cancel an execution. Requests without an `Origin` (curl, ' +
        'scripts, other servers) pass the Origin check; a request without a `Host` (HTTP/1.0, never a browser) ' +
        'passes both. ' +
        'A request body over the limit gets 413 `PAYLOAD_TOO_LARGE` and `Connection: close`: the server reads and ' +
        'drops the rest of the body (up to 64 MiB past the limit) before it closes the connection, so a client ' +
        'that sends the whole body before reading the response still gets the 413. A body declared larger than ' +
        'that is not read, and the connection closes after the 413.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: 'http://127.0.0.1:8088' }],
    security: [{ bearer: [] }, { apiKey: [] }, {}],
    tags: TAGS,
    paths: generated.paths,
    components: {
      schemas: generated.schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'One of ORCHESTR8_API_KEYS' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      parameters: generated.parameters,
      headers: {
        Location: { description: '/executions/{id}', schema: { type: 'string' } },
        IdempotentReplayed: {
          description: '`true` when an Idempotency-Key matched an earlier request',
          schema: { type: 'string' },
        },
      },
      responses: {
        Unauthorized: problem('UNAUTHORIZED: a valid API key is required (WWW-Authenticate: Bearer)'),
        RateLimited: {
          ...problem('RATE_LIMITED'),
          headers: {
            'Retry-After': header('Seconds until the client may retry', { type: 'integer' }),
            RateLimit: header(
              "The client's bucket (IETF httpapi ratelimit-headers draft): `limit=<n>, remaining=<n>, reset=<seconds until full>`; sent on every limited response",
              { type: 'string' },
            ),
            'RateLimit-Policy': header('The limit and its window in seconds: `<limit>;w=<seconds>`', {
              type: 'string',
            }),
          },
        },
        Forbidden: problem(
          'HOST_NOT_ALLOWED: the Host is not one this server answers to; or ORIGIN_NOT_ALLOWED: a browser request from another origin',
        ),
        PayloadTooLarge: problem(
          'PAYLOAD_TOO_LARGE: the body is over the limit (1 MiB by default); the connection then closes',
        ),
        UnsupportedMediaType: problem(
          'UNSUPPORTED_MEDIA_TYPE: bodies must be application/json (PUT /workflows/{id} also takes application/yaml or text/yaml)',
        ),
        HeadersTooLarge: problem(
          'HEADERS_TOO_LARGE: the request line or headers exceed the limit (16 KiB unless --max-http-header-size); the connection then closes',
        ),
        Internal: problem('INTERNAL: never with a stack trace'),
      },
    },
  };
}
