/** `orchestr8 run --server <url>`: `runRemote` against a real server on loopback. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine, type Engine } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runRemote } from '../src/commands/run-remote.js';

let dir: string;
let engine: Engine;
let listener: Listener;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'o8-run-remote-'));
  const registry = createAgentRegistry(builtinAgents);
  engine = createEngine({ registry });
  listener = await createServer({ engine, registry, apiKeys: ['remote-key'] }).listen(0);
});
afterAll(async () => {
  await Promise.all([listener.close({ graceMs: 100 }), engine.shutdown({ graceMs: 100 })]);
  rmSync(dir, { recursive: true, force: true });
});

function capture() {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  return { out: () => out, err: () => err };
}
afterEach(() => vi.restoreAllMocks());

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const HELLO = `version: "1.0.0"
metadata:
  id: remote-hello
inputs:
  type: object
  properties:
    name: { type: string, default: world }
steps:
  - id: greet
    agent: "@orchestr8/hello-world"
    input:
      name: \${inputs.name}
`;

describe('runRemote', () => {
  it('runs a workflow on the server and prints the result as JSON, exit 0', async () => {
    const io = capture();
    const code = await runRemote(file('hello.yaml', HELLO), {
      server: listener.url,
      apiKey: 'remote-key',
      input: ['name=Grace'],
      json: true,
      journal: join(dir, 'journal.ndjson'),
    });
    vi.restoreAllMocks();
    expect(code, io.err()).toBe(0);
    const result = JSON.parse(io.out()) as Record<string, any>;
    expect(result.status).toBe('completed');
    expect(result.outputs).toEqual({ greet: { result: 'Hello, Grace' } });
    const journal = readFileSync(join(dir, 'journal.ndjson'), 'utf8').trim().split('\n');
    expect(JSON.parse(journal.at(-1)!).type).toBe('execution.completed');
  });

  it('follows progress on stderr and prints the summary', async () => {
    const io = capture();
    const code = await runRemote(file('hello2.yaml', HELLO), { server: listener.url, apiKey: 'remote-key' });
    vi.restoreAllMocks();
    expect(code).toBe(0);
    expect(io.err()).toMatch(/execution \S+ · remote-hello@1\.0\.0 · server http:\/\/127\.0\.0\.1/);
    expect(io.err()).toMatch(/greet\s+completed/);
    expect(io.out()).toMatch(/^completed/);
  });

  it('reports diagnostics with positions and exits 2, locally or from the server', async () => {
    let io = capture();
    expect(
      await runRemote(file('bad.yaml', `${HELLO}    extra: [\n`), {
        server: listener.url,
        apiKey: 'remote-key',
      }),
    ).toBe(2);
    vi.restoreAllMocks();
    expect(io.err()).toMatch(/bad\.yaml:\d+:\d+ error E_PARSE/);

    io = capture();
    const unknownAgent = HELLO.replace('@orchestr8/hello-world', '@acme/not-on-server');
    expect(
      await runRemote(file('agent.yaml', unknownAgent), { server: listener.url, apiKey: 'remote-key' }),
    ).toBe(2);
    vi.restoreAllMocks();
    expect(io.err()).toMatch(/agent\.yaml:10:\d+ error E_UNKNOWN_AGENT/);
  });

  it('exits 1 when the execution fails, and reports an unauthorised call', async () => {
    const failing = `version: "1.0.0"\nmetadata: { id: remote-fail }\nsteps:\n  - id: boom\n    agent: "@orchestr8/fail"\n    input: { always: true, retryable: false }\n`;
    let io = capture();
    expect(
      await runRemote(file('fail.yaml', failing), {
        server: listener.url,
        apiKey: 'remote-key',
        quiet: true,
      }),
    ).toBe(1);
    vi.restoreAllMocks();
    expect(io.out()).toMatch(/^failed/);

    io = capture();
    expect(await runRemote(file('fail2.yaml', failing), { server: listener.url, apiKey: 'wrong' })).toBe(2);
    vi.restoreAllMocks();
    expect(io.err()).toMatch(/error UNAUTHORIZED/);
  });

  it('rejects a server that is not an http URL with exit 2', async () => {
    const io = capture();
    expect(await runRemote(file('x.yaml', HELLO), { server: 'ftp://example' })).toBe(2);
    vi.restoreAllMocks();
    expect(io.err()).toMatch(/--server/);
  });
});
