/**
 * Agent packages: `orchestr8 agent install` into a coding assistant's project (idempotent,
 * user entries kept, uninstall restoring the files byte for byte), and dual deployment: the
 * same agent code in-process (`orchestr8 run`), as an HTTP microservice (`orchestr8 agent
 * serve`) and as an MCP tool started from the `.mcp.json` that install wrote.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, startCli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('agent-install');

const AGENT_MODULE = `
export const shout = {
  id: '@acme/shout',
  version: '1.0.0',
  description: 'Turns text into a headline: upper case, words counted.',
  inputSchema: {
    type: 'object',
    required: ['text'],
    additionalProperties: false,
    properties: { text: { type: 'string', description: 'What to shout.' } },
  },
  outputSchema: { type: 'object', required: ['headline', 'words'] },
  execute: (input) => ({ headline: input.text.toUpperCase() + '!', words: input.text.split(/\\s+/).filter(Boolean).length }),
};
`;

/** An agent package folder: package.json naming its entry, and the module. */
function agentPackage(root: string): string {
  const dir = join(root, 'acme-agents');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: '@acme/agents', type: 'module', exports: { '.': { import: './agents.mjs' } } }),
  );
  writeFileSync(join(dir, 'agents.mjs'), AGENT_MODULE);
  return dir;
}

/** Every file under `dir` (relative path -> bytes), to compare a tree before and after. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        out[`${relative(dir, p)}/`] = '';
        walk(p);
      } else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

const USER_MCP =
  '{\n    "mcpServers": {\n        "github": { "command": "gh-mcp", "args": [] }\n    },\n    "other": true\n}\n';

beforeAll(() => assertBuilt());

describe('orchestr8 agent install', () => {
  it('installs twice without a change, keeps user entries, and uninstall restores the project byte for byte', async () => {
    const root = tempRoot();
    const pkg = agentPackage(root);
    const project = join(root, 'project');
    mkdirSync(join(project, '.claude', 'agents'), { recursive: true });
    writeFileSync(join(project, '.mcp.json'), USER_MCP);
    writeFileSync(join(project, '.claude', 'agents', 'mine.md'), '---\nname: mine\n---\nmine\n');
    const before = snapshot(project);

    const first = await cli(['agent', 'install', pkg, '--target', project]);
    expect(first.stderr).toContain(
      'installed 1 agent(s) (@acme/shout) as MCP server "orchestr8-acme-agents" for claude-code',
    );
    expect(first.code, first.stderr).toBe(0);
    const mcp = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8'));
    expect(mcp.other).toBe(true);
    expect(mcp.mcpServers.github).toEqual({ command: 'gh-mcp', args: [] });
    expect(mcp.mcpServers['orchestr8-acme-agents']).toEqual({
      command: 'npx',
      args: [
        '-y',
        '@orchestr8/cli',
        'mcp',
        '--store',
        'memory',
        '--agents',
        join(pkg, 'agents.mjs'),
        '--expose-agents',
        '@acme/shout',
      ],
    });
    const sub = readFileSync(join(project, '.claude', 'agents', 'acme-shout.md'), 'utf8');
    expect(sub).toMatch(
      /^---\nname: acme-shout\ndescription: "Turns text into a headline: upper case, words counted\. Use it to run the orchestr8 agent @acme\/shout\."\ntools: mcp__orchestr8-acme-agents__agent_acme_shout\n---\n/,
    );
    expect(sub).toContain('"What to shout."');
    expect(readFileSync(join(project, '.claude', 'agents', 'mine.md'), 'utf8')).toBe(
      '---\nname: mine\n---\nmine\n',
    );

    expect(
      Object.keys(
        JSON.parse(readFileSync(join(project, '.orchestr8', 'installed-agents.json'), 'utf8')).installs,
      ),
    ).toEqual(['orchestr8-acme-agents']);
    const installed = snapshot(project);
    const again = await cli(['agent', 'install', pkg, '--target', project]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('orchestr8-acme-agents is already installed');
    expect(snapshot(project)).toEqual(installed);

    const removed = await cli(['agent', 'uninstall', pkg, '--target', project]);
    expect(removed.code).toBe(0);
    expect(snapshot(project)).toEqual(before);
  });

  it('in an empty project: creates the files and directories, and uninstall leaves it empty again', async () => {
    const root = tempRoot();
    const pkg = agentPackage(root);
    const project = join(root, 'empty');
    mkdirSync(project);
    const dry = await cli(['agent', 'install', pkg, '--target', project, '--dry-run']);
    expect(dry.stderr).toContain('would create .mcp.json');
    expect(readdirSync(project)).toEqual([]);
    expect((await cli(['agent', 'install', pkg, '--target', project])).code).toBe(0);
    expect(existsSync(join(project, '.claude', 'agents', 'acme-shout.md'))).toBe(true);
    const installed = snapshot(project);
    expect((await cli(['agent', 'install', pkg, '--target', project])).stderr).toContain('nothing to change');
    expect(snapshot(project)).toEqual(installed);
    expect((await cli(['agent', 'uninstall', 'orchestr8-acme-agents', '--target', project])).code).toBe(0);
    expect(readdirSync(project)).toEqual([]);
  });

  it('--agents picks agents, --name the server, --config-only writes no sub-agents', async () => {
    const root = tempRoot();
    const pkg = agentPackage(root);
    writeFileSync(
      join(pkg, 'agents.mjs'),
      `${AGENT_MODULE}\nexport const whisper = { id: '@acme/whisper', execute: (i) => ({ text: String(i.text).toLowerCase() }) };\n`,
    );
    const project = join(root, 'picked');
    mkdirSync(project);
    const r = await cli([
      'agent',
      'install',
      pkg,
      '--target',
      project,
      '--agents',
      '@acme/whisper',
      '--name',
      'quiet',
      '--config-only',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const entry = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8')).mcpServers.quiet;
    expect(entry.args.slice(-2)).toEqual(['--expose-agents', '@acme/whisper']);
    expect(existsSync(join(project, '.claude'))).toBe(false);
    const unknown = await cli(['agent', 'install', pkg, '--target', project, '--agents', '@acme/nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no agent "@acme/nope" (it has @acme/shout, @acme/whisper)');
  });

  it('never takes over an MCP entry or a sub-agent file it did not write', async () => {
    const root = tempRoot();
    const pkg = agentPackage(root);
    const project = join(root, 'taken');
    mkdirSync(project);
    writeFileSync(
      join(project, '.mcp.json'),
      '{"mcpServers": {"orchestr8-acme-agents": {"command": "mine"}}}',
    );
    const r = await cli(['agent', 'install', pkg, '--target', project]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'already has an MCP server "orchestr8-acme-agents" that orchestr8 did not install',
    );
    expect(readFileSync(join(project, '.mcp.json'), 'utf8')).toBe(
      '{"mcpServers": {"orchestr8-acme-agents": {"command": "mine"}}}',
    );
    const other = join(root, 'sub-agent-taken');
    mkdirSync(join(other, '.claude', 'agents'), { recursive: true });
    writeFileSync(join(other, '.claude', 'agents', 'acme-shout.md'), 'my own\n');
    const refused = await cli(['agent', 'install', pkg, '--target', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('.claude/agents/acme-shout.md exists and was not written by orchestr8');
    expect(readdirSync(other)).toEqual(['.claude']);
  });
});

describe('dual deployment: one agent, three ways, the same output', () => {
  it('in-process, as an HTTP microservice, and as an MCP tool', async () => {
    const root = tempRoot();
    const pkg = agentPackage(root);
    const module = join(pkg, 'agents.mjs');
    const input = { text: 'ship it today' };
    const expected = { headline: 'SHIP IT TODAY!', words: 3 };

    // 1. In-process: a workflow step run by `orchestr8 run`.
    writeFileSync(
      join(root, 'wf.yaml'),
      `version: "1.0.0"\nmetadata: { id: shout-once }\nsteps:\n  - id: s\n    agent: "@acme/shout"\n    input: { text: "${input.text}" }\noutputs:\n  result: \${steps.s.output}\n`,
    );
    const run = await cli(['run', 'wf.yaml', '--agents', module, '--store', 'memory', '--json'], {
      cwd: root,
    });
    expect(run.code).toBe(0);
    const inProcess = JSON.parse(run.stdout).outputs.result;

    // 2. HTTP microservice: `orchestr8 agent serve`.
    const served = startCli(['agent', 'serve', module, '--port', '0'], { cwd: root, timeoutMs: 120_000 });
    let viaHttp: unknown;
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        served.child.stdout!.on('data', (d: string) => {
          out += d;
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        void served.done.then((r) => reject(new Error(`agent serve exited early: ${r.stderr}`)), reject);
      });
      const res = await fetch(`${url}/agents/${encodeURIComponent('@acme/shout')}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input }),
      });
      viaHttp = ((await res.json()) as { output: unknown }).output;
    } finally {
      served.child.kill('SIGTERM');
      await served.done;
    }

    // 3. MCP tool: the server entry `agent install` wrote, started as the assistant would.
    const project = join(root, 'project');
    mkdirSync(project);
    expect((await cli(['agent', 'install', pkg, '--target', project, '--local'])).code).toBe(0);
    const entry = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8')).mcpServers[
      'orchestr8-acme-agents'
    ];
    const client = new Client({ name: 'assistant', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: entry.command,
        args: entry.args,
        cwd: project,
        env: { PATH: process.env.PATH ?? '' },
      }),
    );
    let viaMcp: unknown;
    try {
      const tool = (await client.listTools()).tools.find((t) => t.name === 'agent_acme_shout');
      expect(tool?.inputSchema).toMatchObject({ required: ['text'] });
      const r = (await client.callTool({ name: 'agent_acme_shout', arguments: input })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      viaMcp = (r.structuredContent as { output: unknown }).output;
      const bad = (await client.callTool({
        name: 'agent_acme_shout',
        arguments: { text: 1 },
      })) as CallToolResult;
      expect(bad.isError).toBe(true);
      expect((bad.content[0] as { text: string }).text).toContain('/text');
    } finally {
      await client.close();
    }

    expect(inProcess).toEqual(expected);
    expect(viaHttp).toEqual(expected);
    expect(viaMcp).toEqual(expected);
  });
});
