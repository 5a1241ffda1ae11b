/**
 * The two ways to reach the MCP server: stdio (`orchestr8 mcp`, started by the assistant)
 * and streamable HTTP (`/mcp` in `orchestr8 serve`), stateless: every POST gets a fresh SDK
 * server and transport, so any instance behind a load balancer answers any request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ValidationError } from '@orchestr8/common';
import type { McpService } from './mcp-server.js';

export interface StdioSession {
  /** Resolves when the client closes stdin (or `close` is called). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** Serves MCP over stdio: JSON-RPC on stdin/stdout; nothing else may write to stdout. */
export async function serveStdio(
  service: McpService,
  stdin: Readable = process.stdin,
  stdout: Writable = process.stdout,
): Promise<StdioSession> {
  const server = service.createServer();
  const transport = new StdioServerTransport(stdin, stdout);
  let done!: () => void;
  const closed = new Promise<void>((r) => {
    done = r;
  });
  server.onclose = () => done();
  // The SDK's stdio transport does not notice the end of stdin by itself.
  const onEnd = () => void server.close().finally(done);
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  await server.connect(transport);
  return {
    closed,
    async close() {
      stdin.off('end', onEnd);
      stdin.off('close', onEnd);
      await server.close();
      done();
    },
  };
}

export interface McpHttpOptions {
  /** Where the endpoint answers. Default `/mcp`. */
  path?: string;
  /** Largest request body: bytes, or text such as "512kb" or "1mb". Default 1 MiB. */
  bodyLimit?: number | string;
}

type Next = (err?: unknown) => void;

/** `--body-limit` as `orchestr8 serve` takes it: bytes, or a number with b, kb, mb or gb. */
function byteSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) throw new ValidationError(`invalid body limit "${value}": use bytes or e.g. "512kb", "1mb"`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * unit);
}

function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers = {},
): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A request handler (node `http` or express) for the streamable HTTP endpoint; other paths
 * go on to `next`. Mount it behind the host's authentication and Host/Origin checks: it
 * adds none of its own.
 */
export function createMcpHttpHandler(
  service: McpService,
  options: McpHttpOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const path = options.path ?? '/mcp';
  const limit = byteSize(options.bodyLimit ?? 1024 * 1024);
  return (req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== path) return next();
    if (req.method !== 'POST') {
      // Stateless: no session to resume (GET) or end (DELETE).
      return jsonRpcError(res, 405, -32000, `${req.method} is not allowed on ${path}; use POST`, {
        allow: 'POST',
      });
    }
    void (async () => {
      const raw = await readBody(req, limit);
      if (raw === undefined)
        return jsonRpcError(res, 413, -32600, `the request body is larger than ${limit} bytes`, {
          connection: 'close',
        });
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return jsonRpcError(res, 400, -32700, `the body is not JSON: ${(e as Error).message}`);
      }
      const server = service.createServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.once('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch(next);
  };
}
