/**
 * `orchestr8 mcp` (stdio) and `/mcp` in `orchestr8 serve` (streamable HTTP), each driven by
 * the official MCP SDK's client against the built CLI: tools listed from workflow files and
 * registered workflows, a call with valid and invalid arguments, a long execution followed to
 * completion, and the exposure defaults.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, serve, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('mcp');

const GREET = `version: "1.0.0"
metadata:
  id: greet
  description: Greets someone by name.
inputs:
  type: object
  required: [name]
  properties:
    name: { type: string }
steps:
  - id: hello
    agent: "@orchestr8/echo"
    input: { text: "Hello, \${inputs.name}!" }
outputs:
  greeting: \${steps.hello.output.text}
`;

const SLOW = `version: "1.0.0"
metadata:
  id: slow
  description: Takes a while.
steps:
  - id: nap
    agent: "@orchestr8/sleep"
    input: { ms: 1500, value: { done: true } }
outputs:
  done: \${steps.nap.output.done}
`;

function structured(r: unknown): Record<string, unknown> {
  return (r as CallToolResult).structuredContent as Record<string, unknown>;
}
function text(r: unknown): string {
  const c = (r as CallToolResult).content[0];
  return c?.type === 'text' ? c.text : '';
}

function project(): { dir: string; store: string } {
  const dir = tempRoot();
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(join(dir, 'workflows', 'greet.yaml'), GREET);
  writeFileSync(join(dir, 'workflows', 'slow.yaml'), SLOW);
  return { dir, store: `sqlite:${join(dir, 'o8.db')}` };
}

beforeAll(() => assertBuilt());

describe('orchestr8 mcp over stdio', () => {
  it('serves workflow files as tools: outputs, a clear error for bad arguments, a long run followed to the end', async () => {
    const { dir, store } = project();
    const stderr: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--store', store, '--wait', '300ms', '--allow-shell', 'find', 'workflows'],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c) => stderr.push(String(c)));
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const tools = (await client.listTools()).tools;
      const greet = tools.find((t) => t.name === 'greet');
      expect(greet?.description).toContain('Greets someone by name.');
      expect(greet?.inputSchema).toMatchObject({ type: 'object', required: ['name'] });
      expect(tools.some((t) => t.name === 'slow')).toBe(true);

      // The operator's grants (here --allow-shell find) apply to documents sent as tool arguments.
      const shell = (allow: string[]) => ({
        version: '1.0.0',
        metadata: { id: 'sh' },
        steps: [
          { id: 'ls', agent: { id: '@orchestr8/shell', config: { allow } }, input: { command: [allow[0]] } },
        ],
      });
      const granted = await client.callTool({
        name: 'orchestr8_validate',
        arguments: { document: shell(['find']) },
      });
      expect(structured(granted)).toMatchObject({ valid: true });
      const denied = await client.callTool({
        name: 'orchestr8_validate',
        arguments: { document: shell(['rm']) },
      });
      expect(text(denied)).toMatch(/^CAPABILITY_DENIED: .*\n {2}step "ls": /);

      const ok = await client.callTool({ name: 'greet', arguments: { name: 'Ada' } });
      expect(structured(ok)).toMatchObject({ status: 'completed', outputs: { greeting: 'Hello, Ada!' } });

      const bad = await client.callTool({ name: 'greet', arguments: { name: 7 } });
      expect(bad.isError).toBe(true);
      expect(text(bad)).toContain('/name');

      const long = structured(await client.callTool({ name: 'slow', arguments: {} }));
      expect(long.status).toBe('running');
      let view = long;
      for (let i = 0; i < 20 && view.status !== 'completed'; i++)
        view = structured(
          await client.callTool({
            name: 'orchestr8_get_execution',
            arguments: { executionId: long.executionId, waitSeconds: 5 },
          }),
        );
      expect(view).toMatchObject({ status: 'completed', outputs: { done: true } });
    } finally {
      await client.close();
    }
    expect(stderr.join('')).toMatch(/orchestr8 mcp: serving 2 workflow tool\(s\) \(greet, slow\) over stdio/);
  });

  it('without workflow files, the workflows registered in the store are the tools; with files, those --expose names', async () => {
    const { dir, store } = project();
    const { cli } = await import('./fixtures/harness.js');
    expect(
      (
        await cli(['run', 'workflows/greet.yaml', '--store', store, '--input', 'name=Ada', '--quiet'], {
          cwd: dir,
        })
      ).code,
    ).toBe(0);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--store', store],
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir },
        stderr: 'pipe',
      }),
    );
    try {
      const names = (await client.listTools()).tools
        .map((t) => t.name)
        .filter((n) => !n.startsWith('orchestr8_'));
      expect(names).toEqual(['greet']);
    } finally {
      await client.close();
    }
    // With files, registered workflows are tools only when --expose names them.
    const both = new Client({ name: 'test', version: '1.0.0' });
    await both.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--store', store, '--expose', 'greet', 'workflows/slow.yaml'],
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir },
        stderr: 'pipe',
      }),
    );
    try {
      const names = (await both.listTools()).tools
        .map((t) => t.name)
        .filter((n) => !n.startsWith('orchestr8_'));
      expect(names).toEqual(['greet', 'slow']);
    } finally {
      await both.close();
    }
  });

  it('an invalid workflow file is reported with where the problem is, and nothing is served', async () => {
    const { dir, store } = project();
    writeFileSync(
      join(dir, 'workflows', 'broken.yaml'),
      'version: "1.0.0"\nmetadata: { id: broken }\nsteps: []\n',
    );
    const { startCli } = await import('./fixtures/harness.js');
    const r = await startCli(['mcp', '--store', store, 'workflows'], { cwd: dir }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('broken.yaml');
    expect(r.stderr).toContain('not a valid workflow; nothing is served');
    expect(r.stdout).toBe('');
  });
});

async function putWorkflow(url: string, yaml: string, id: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/workflows/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/yaml', ...headers },
    body: yaml,
  });
  expect([200, 201]).toContain(res.status);
}

describe('/mcp in orchestr8 serve', () => {
  it('on loopback, registered workflows are tools by default', async () => {
    const { dir, store } = project();
    const s = await serve(['--port', '0', '--store', store, '--ask'], {
      cwd: dir,
      env: { ORCHESTR8_LLM_PROVIDER: undefined },
    });
    try {
      await putWorkflow(s.url, GREET, 'greet');
      const client = new Client({ name: 'test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`)));
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toContain('greet');
        const r = await client.callTool({ name: 'greet', arguments: { name: 'Bo' } });
        expect(structured(r)).toMatchObject({ outputs: { greeting: 'Hello, Bo!' } });
        // --ask serves POST /ask; with no LLM provider configured, planning fails as the host's problem.
        const asked = await fetch(`${s.url}/ask`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ request: 'greet Bo' }),
        });
        expect(asked.status).toBe(502);
        expect(((await asked.json()) as { detail: string }).detail).toContain(
          'planning failed: llm: no provider',
        );
      } finally {
        await client.close();
      }
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('on a non-loopback address, no workflow is a tool unless --mcp-expose names it, and the API key is required', async () => {
    const { dir, store } = project();
    const key = 'k-123';
    const auth = { authorization: `Bearer ${key}` };
    for (const [flags, expected] of [
      [[], []],
      [['--mcp-expose', 'greet'], ['greet']],
    ] as const) {
      const s = await serve(
        ['--host', '0.0.0.0', '--port', '0', '--api-keys', key, '--store', store, ...flags],
        {
          cwd: dir,
        },
      );
      try {
        const url = s.url.replace('0.0.0.0', '127.0.0.1');
        await putWorkflow(url, GREET, 'greet', auth);
        const unauthorised = await fetch(`${url}/mcp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        expect(unauthorised.status).toBe(401);
        const client = new Client({ name: 'test', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: auth } }),
        );
        try {
          const names = (await client.listTools()).tools
            .map((t) => t.name)
            .filter((n) => !n.startsWith('orchestr8_'));
          expect(names).toEqual(expected);
        } finally {
          await client.close();
        }
      } finally {
        expect(await s.stop()).toBe(0);
      }
    }
  });
});
