import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import type { Capabilities, Engine, Store } from '@orchestr8/core';
import { createEngine } from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';

export const GREET = {
  version: '1.0.0',
  metadata: { id: 'greet', name: 'Greet', description: 'Greets someone by name.' },
  inputs: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', description: 'Who to greet.' },
      times: { type: 'integer', default: 1 },
    },
    additionalProperties: false,
  },
  steps: [
    {
      id: 'hello',
      agent: '@orchestr8/echo',
      input: { text: 'Hello, ${inputs.name}!', times: '${inputs.times}' },
    },
  ],
  outputs: { greeting: '${steps.hello.output.text}', times: '${steps.hello.output.times}' },
};

export const SLOW = {
  version: '1.0.0',
  metadata: { id: 'slow.job', description: 'Takes a while.' },
  inputs: { type: 'object', properties: { ms: { type: 'integer', default: 1500 } } },
  steps: [{ id: 'nap', agent: '@orchestr8/sleep', input: { ms: '${inputs.ms}', value: { done: true } } }],
  outputs: { done: '${steps.nap.output.done}' },
};

export interface TestHost {
  dir: string;
  store: Store;
  engine: Engine;
  close(): Promise<void>;
}

/** An engine on a real SQLite file, with GREET and SLOW registered in its store. */
export async function testHost(capabilities: Capabilities = {}): Promise<TestHost> {
  const dir = mkdtempSync(join(tmpdir(), 'o8-mcp-'));
  const store = await openSqliteStore({ path: join(dir, 'o8.db') });
  const engine = createEngine({
    registry: createAgentRegistry([...builtinAgents, ...standardAgents]),
    store,
    capabilities,
  });
  for (const doc of [GREET, SLOW]) {
    const w = engine.compile(doc);
    await store.putDefinition({
      id: w.id,
      version: w.version,
      hash: w.hash,
      document: w.document,
      createdAt: Date.now(),
    });
  }
  return {
    dir,
    store,
    engine,
    async close() {
      await engine.shutdown({ graceMs: 0, cancel: true });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function text(r: unknown): string {
  const c = (r as CallToolResult).content[0];
  return c?.type === 'text' ? c.text : '';
}

export function structured(r: unknown): Record<string, unknown> {
  return (r as CallToolResult).structuredContent as Record<string, unknown>;
}

export function newClient(): Client {
  return new Client({ name: 'orchestr8-test', version: '1.0.0' });
}
