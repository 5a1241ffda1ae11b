import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkEgressAllow,
  createRemoteAgent,
  type EgressResolver,
  egressDispatcher,
  httpAgent,
  llmAgent,
} from '../src/index.js';
import { openaiProvider } from '../src/llm-providers.js';
import {
  caught,
  compile,
  contextFor,
  run,
  sendJson,
  startServer,
  type TestServer,
  testEngine,
} from './helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function okServer(host?: string): Promise<TestServer> {
  const s = await startServer((_req, res) => sendJson(res, 200, { ok: true }), host);
  servers.push(s);
  return s;
}

const grant = (...allow: string[]) => contextFor({}, { egress: { allow } });
const retry = { maxAttempts: 3, baseDelayMs: 10, jitter: 'none' };

describe('egress control of the http agent', () => {
  it('refuses a loopback server by default: EGRESS_DENIED, never retried, and no request reaches it', async () => {
    const server = await okServer();
    const wf = compile({
      inputs: { type: 'object', properties: { url: { type: 'string' } } },
      steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: '${inputs.url}' } }],
      policies: { resilience: { retry } },
    });
    const { engine, clock } = testEngine([httpAgent]);
    const r = await run(engine, clock, wf, { url: `${server.url}/admin?token=x` });
    expect(r.status).toBe('failed');
    expect(r.steps.call!.attempts).toBe(1);
    const error = r.steps.call!.error!;
    expect(error).toMatchObject({ code: 'EGRESS_DENIED', retryable: false });
    expect(error.details).toMatchObject({ host: '127.0.0.1', address: '127.0.0.1', range: 'loopback' });
    expect(error.message).toContain(`http: GET ${server.url}/admin: connecting to 127.0.0.1 is refused`);
    expect(error.message).toContain(
      'add it to capabilities.egress.allow in orchestr8.config, or --allow-egress <host|cidr>',
    );
    expect(error.message).not.toMatch(/\n\s+at /);
    expect(server.connections).toBe(0);
  });

  it('refuses a URL written with a loopback or private address before anything is recorded', async () => {
    const server = await okServer();
    const port = new URL(server.url).port;
    for (const url of [
      `${server.url}/admin`,
      `http://localhost:${port}/`,
      'http://[::1]/',
      'http://169.254.169.254/latest',
    ]) {
      const wf = compile({ steps: [{ id: 'call', agent: '@orchestr8/http', input: { url } }] });
      const { engine } = testEngine([httpAgent]);
      const e = await caught(() => engine.start(wf));
      expect(e, url).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
      expect(e.message, url).toMatch(/^step "call": connecting to \S+ is refused: /);
      expect(e.message, url).toContain('--allow-egress <host|cidr>');
      expect((await engine.store.listExecutions({ limit: 10 })).items, url).toHaveLength(0);
    }
    // Granted, or a public address, or a name (checked when it resolves): not refused early.
    const granted = testEngine([httpAgent], {
      capabilities: { egress: { allow: ['127.0.0.1', 'localhost'] } },
    });
    for (const url of [server.url, `http://localhost:${port}/`])
      granted.engine.authorize(
        compile({ steps: [{ id: 'call', agent: '@orchestr8/http', input: { url } }] }),
      );
    const open = testEngine([httpAgent]);
    for (const url of ['https://93.184.216.34/', 'https://example.com/', '${inputs.url}'])
      open.engine.authorize(compile({ steps: [{ id: 'call', agent: '@orchestr8/http', input: { url } }] }));
    expect(server.connections).toBe(0);
  });

  it('reaches it when the operator allows the address, a CIDR range, the host name or "*"', async () => {
    const server = await okServer();
    const port = new URL(server.url).port;
    const ok = { status: 200, body: { ok: true } };
    expect(await httpAgent.execute({ url: server.url }, grant('127.0.0.1'))).toMatchObject(ok);
    expect(await httpAgent.execute({ url: server.url }, grant('10.0.0.0/8', '127.0.0.0/8'))).toMatchObject(
      ok,
    );
    expect(await httpAgent.execute({ url: `http://localhost:${port}` }, grant('localhost'))).toMatchObject(
      ok,
    );
    expect(await httpAgent.execute({ url: server.url }, grant('*'))).toMatchObject(ok);
    const { engine, clock } = testEngine([httpAgent], { capabilities: { egress: { allow: ['127.0.0.1'] } } });
    const r = await run(
      engine,
      clock,
      compile({ steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: server.url } }] }),
    );
    expect(r.status).toBe('completed');
    expect(server.requests).toHaveLength(5);
  });

  it('refuses a host name that resolves to a loopback address', async () => {
    const server = await okServer();
    const url = `http://localhost:${new URL(server.url).port}/`;
    const e = await caught(() => httpAgent.execute({ url }, contextFor()));
    expect(e).toMatchObject({ code: 'EGRESS_DENIED', retryable: false });
    expect(e.message).toMatch(
      /connecting to localhost \((127\.0\.0\.1|::1)\) is refused: .* is a loopback address/,
    );
    expect(server.connections).toBe(0);
  });

  it('refuses a redirect from an allowed server to an address that is not allowed', async () => {
    const inner = await okServer('127.0.0.2');
    const outer = await startServer((_req, res) => {
      res.writeHead(302, { location: `${inner.url}/secret` });
      res.end();
    });
    servers.push(outer);
    const e = await caught(() => httpAgent.execute({ url: outer.url }, grant('127.0.0.1')));
    expect(e).toMatchObject({ code: 'EGRESS_DENIED', details: { address: '127.0.0.2', range: 'loopback' } });
    expect(e.message).toContain('connecting to 127.0.0.2 is refused');
    expect(outer.requests).toHaveLength(1);
    expect(inner.connections).toBe(0);
    // The same redirect is followed once the operator allows both addresses.
    const out = await httpAgent.execute({ url: outer.url }, grant('127.0.0.0/8'));
    expect(out).toMatchObject({ status: 200, body: { ok: true } });
    expect(inner.requests.map((r) => r.url)).toEqual(['/secret']);
  });

  it('refuses non-public IP literals without opening a connection', async () => {
    const server = await okServer();
    const port = new URL(server.url).port;
    const connect = vi.spyOn(net, 'connect');
    const refused: [url: string, range: string][] = [
      ['http://169.254.169.254/latest/meta-data/', 'link-local'],
      [`http://[::ffff:127.0.0.1]:${port}/`, 'loopback'],
      [`http://0.0.0.0:${port}/`, 'unspecified'],
      [`http://2130706433:${port}/`, 'loopback'],
      [`http://[::1]:${port}/`, 'loopback'],
      ['http://[::]/', 'unspecified'],
      ['http://10.1.2.3/', 'private'],
      ['http://172.16.0.1/', 'private'],
      ['https://192.168.1.1/', 'private'],
      ['http://100.64.0.1/', 'shared (CGNAT)'],
      ['http://224.0.0.1/', 'multicast'],
      ['http://240.0.0.1/', 'reserved'],
      ['http://[fd12:3456::1]/', 'private'],
      ['http://[fe80::1]/', 'link-local'],
      ['http://[ff02::1]/', 'multicast'],
      ['http://[64:ff9b::a9fe:a9fe]/', 'link-local'],
      ['http://[::ffff:10.0.0.1]/', 'private'],
      ['http://[2001:db8::1]/', 'reserved (documentation)'],
    ];
    for (const [url, range] of refused) {
      const e = await caught(() => httpAgent.execute({ url }, grant('api.internal')));
      expect({ url, code: e.code, range: e.details?.range }).toEqual({ url, code: 'EGRESS_DENIED', range });
    }
    expect(connect).not.toHaveBeenCalled();
    expect(server.connections).toBe(0);
    // An IPv4 grant covers the IPv4-mapped form of the address too.
    const mapped = `http://[::ffff:127.0.0.1]:${port}/`;
    expect(await httpAgent.execute({ url: mapped }, grant('127.0.0.1'))).toMatchObject({ status: 200 });
  });

  it('lets public addresses through to a connection attempt', async () => {
    // No internet here: the socket is a stand-in that fails like an unreachable network.
    const connect = vi.spyOn(net, 'connect').mockImplementation(() => {
      const socket = new net.Socket();
      setImmediate(() =>
        socket.destroy(Object.assign(new Error('connect ENETUNREACH'), { code: 'ENETUNREACH' })),
      );
      return socket;
    });
    const urls = [
      'http://93.184.215.14/',
      'http://[2606:4700:4700::1111]/',
      'http://[::ffff:8.8.8.8]/',
      'http://[64:ff9b::808:808]/',
    ];
    for (const url of urls) {
      const e = await caught(() => httpAgent.execute({ url }, contextFor()));
      expect(e).toMatchObject({ code: 'NETWORK', retryable: true });
    }
    expect(connect.mock.calls.map(([options]) => (options as unknown as net.TcpNetConnectOpts).host)).toEqual(
      ['93.184.215.14', '2606:4700:4700::1111', '::ffff:808:808', '64:ff9b::808:808'],
    );
  });

  it('reuses one pooled connection for calls under the same policy', async () => {
    const server = await okServer();
    await httpAgent.execute({ url: server.url }, grant('127.0.0.1', '::1'));
    // The finished connection goes back to the pool a moment after the body is read.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await httpAgent.execute({ url: server.url }, grant('::1', '127.0.0.1'));
    expect(server.requests).toHaveLength(2);
    expect(server.connections).toBe(1);
  });
});

describe('egress control of name resolution', () => {
  it('refuses a public-looking name that resolves to a private address, and connects to the address it checked', async () => {
    const server = await okServer();
    const url = `http://rebind.example:${new URL(server.url).port}/`;
    const asked: string[] = [];
    const loopback: EgressResolver = async (hostname) => {
      asked.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const e = await caught(() => fetch(url, { dispatcher: egressDispatcher([], loopback) }));
    expect(e.cause).toMatchObject({
      code: 'EGRESS_DENIED',
      retryable: false,
      details: { host: 'rebind.example', address: '127.0.0.1', range: 'loopback' },
    });
    expect(e.cause.message).toContain('connecting to rebind.example (127.0.0.1) is refused');
    expect(server.connections).toBe(0);
    // Granted, the socket goes to the address the resolver gave (rebind.example has no DNS here).
    const res = await fetch(url, { dispatcher: egressDispatcher(['127.0.0.1'], loopback) });
    expect(await res.json()).toEqual({ ok: true });
    expect(asked).toEqual(['rebind.example', 'rebind.example']);
  });

  it('refuses a name when any of its addresses is not public', async () => {
    const mixed: EgressResolver = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    const e = await caught(() => fetch('http://mixed.example/', { dispatcher: egressDispatcher([], mixed) }));
    expect(e.cause).toMatchObject({
      code: 'EGRESS_DENIED',
      details: { address: '10.0.0.5', range: 'private' },
    });
  });

  it('skips the address check for host names the operator lists, "*.suffix" for subdomains', async () => {
    const server = await okServer();
    const port = new URL(server.url).port;
    const resolver: EgressResolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const dispatcher = egressDispatcher(['*.svc.local', 'api.internal'], resolver);
    for (const host of ['api.internal', 'API.Internal.', 'a.svc.local', 'a.b.svc.local']) {
      expect((await fetch(`http://${host}:${port}/`, { dispatcher })).status).toBe(200);
    }
    for (const host of ['svc.local', 'evilsvc.local', 'api.internal.evil.example']) {
      const e = await caught(() => fetch(`http://${host}:${port}/`, { dispatcher }));
      expect(e.cause).toMatchObject({ code: 'EGRESS_DENIED' });
    }
    expect(server.requests).toHaveLength(4);
  });

  it('has one dispatcher per policy, and none when "*" allows everything', () => {
    expect(egressDispatcher(['10.0.0.0/8', 'a.example'])).toBe(egressDispatcher(['A.example', '10.0.0.0/8']));
    expect(egressDispatcher(['10.0.0.0/8'])).not.toBe(egressDispatcher([]));
    expect(egressDispatcher(['*', '10.0.0.0/8'])).toBeUndefined();
  });

  it('names the allow-list entries that are not "*", an address, a CIDR range or a host name', () => {
    expect(() =>
      checkEgressAllow(['*', '127.0.0.1', '[::1]', 'fc00::/7', '10.0.0.0/8', 'api.internal', '*.svc.local']),
    ).not.toThrow();
    const e = (() => {
      try {
        checkEgressAllow(['10.0.0.0/33', 'api.internal:8443', 'http://x', '::1/129', 'ok.example']);
      } catch (error) {
        return error as { code: string; message: string };
      }
    })();
    expect(e?.code).toBe('VALIDATION');
    expect(e?.message).toBe(
      'capabilities.egress.allow: "10.0.0.0/33", "api.internal:8443", "http://x", "::1/129" is not "*", an IP address, a CIDR range or a host name',
    );
  });
});

describe('egress control of the remote and llm agents', () => {
  it('refuses a remote agent service (agent.url) on loopback by default', async () => {
    const server = await okServer();
    const wf = compile({
      steps: [{ id: 'remote', agent: { id: '@acme/echo', url: server.url }, input: {} }],
      policies: { resilience: { retry } },
    });
    const { engine, clock } = testEngine([], { remoteAgent: (u, id) => createRemoteAgent(u, id) });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('failed');
    expect(r.steps.remote!.attempts).toBe(1);
    expect(r.steps.remote!.error).toMatchObject({ code: 'EGRESS_DENIED', retryable: false });
    expect(r.steps.remote!.error!.message).toContain(
      `remote agent "@acme/echo" at ${server.url}/agents/%40acme%2Fecho/execute: connecting to 127.0.0.1 is refused`,
    );
    expect(server.connections).toBe(0);
  });

  it('refuses an llm baseUrl on loopback by default', async () => {
    const server = await okServer();
    const e = await caught(() =>
      llmAgent.execute(
        { provider: 'openai', baseUrl: `${server.url}/v1`, apiKey: 'k', instructions: 'hi' },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'EGRESS_DENIED', retryable: false });
    expect(e.message).toContain(`openai: POST ${server.url}/v1/chat/completions: connecting to 127.0.0.1`);
    expect(server.connections).toBe(0);
  });

  it('lets an llm provider reach a loopback baseUrl the operator allows', async () => {
    const server = await startServer((_req, res) =>
      sendJson(res, 200, { model: 'local-1', choices: [{ message: { role: 'assistant', content: 'hi' } }] }),
    );
    servers.push(server);
    const settings = { apiKey: undefined, baseUrl: `${server.url}/v1`, timeoutMs: 5000 };
    const request = {
      system: '',
      messages: [{ role: 'user' as const, content: 'x' }],
      model: 'm',
      maxTokens: 5,
    };
    const signal = new AbortController().signal;
    const denied = await caught(() => openaiProvider.complete(request, { ...settings, signal }));
    expect(denied).toMatchObject({ code: 'EGRESS_DENIED' });
    const out = await openaiProvider.complete(request, {
      ...settings,
      signal,
      egress: { allow: ['127.0.0.1'] },
    });
    expect(out).toEqual({ text: 'hi', model: 'local-1' });
    expect(server.requests).toHaveLength(1);
  });
});
