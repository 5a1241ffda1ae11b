/**
 * MCP over streamable HTTP: calls of a 1-step workflow's tool, beside `POST
 * /workflows/execute` with `Prefer: wait` on the same server in the same run (SQLite store,
 * the same number of concurrent clients). Server and load generator share this process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { createMcpHttpHandler, createMcpService } from '@orchestr8/mcp';
import { createServer } from '@orchestr8/server';
import { openSqliteStore } from '@orchestr8/store-sqlite';

const ONE_STEP = {
  version: '1.0.0',
  metadata: { id: 'bench-one-step', description: 'One echo step.' },
  steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { n: 1 } }],
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function drive(clients: number, durationMs: number, call: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await call(i);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    'calls/s': latencies.length / (durationMs / 1000),
    'p50 ms': percentile(latencies, 50),
    'p99 ms': percentile(latencies, 99),
    errors,
  };
}

export async function runMcpBench(options: { durationSec?: number; clients?: number } = {}) {
  const durationMs = (options.durationSec ?? 5) * 1000;
  const clients = options.clients ?? 10;
  const dir = mkdtempSync(join(tmpdir(), 'o8-mcp-bench-'));
  const store = await openSqliteStore({ path: join(dir, 'bench.db') });
  const registry = createAgentRegistry(builtinAgents);
  const engine = createEngine({ registry, store });
  const w = engine.compile(ONE_STEP);
  await store.putDefinition({
    id: w.id,
    version: w.version,
    hash: w.hash,
    document: w.document,
    createdAt: Date.now(),
  });
  const service = createMcpService({ engine, expose: '*' });
  const listener = await createServer({
    engine,
    registry,
    rateLimit: false,
    routers: [{ handler: createMcpHttpHandler(service) }],
  }).listen(0, '127.0.0.1');
  const rows: Record<string, unknown>[] = [];
  try {
    const mcp = await Promise.all(
      Array.from({ length: clients }, async () => {
        const c = new Client({ name: 'bench', version: '1.0.0' });
        await c.connect(new StreamableHTTPClientTransport(new URL(`${listener.url}/mcp`)));
        return c;
      }),
    );
    const load = loadavg()[0]!.toFixed(2);
    rows.push({
      scenario: `MCP tools/call bench-one-step (${clients} clients)`,
      ...(await drive(clients, durationMs, async (i) => {
        const r = await mcp[i]!.callTool({ name: 'bench-one-step', arguments: {} });
        if (r.isError) throw new Error('tool error');
      })),
      'load 1m': load,
    });
    rows.push({
      scenario: `POST /workflows/execute, Prefer: wait (${clients} clients)`,
      ...(await drive(clients, durationMs, async () => {
        const res = await fetch(`${listener.url}/workflows/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', prefer: 'wait=10' },
          body: JSON.stringify({ workflowId: 'bench-one-step' }),
        });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        await res.arrayBuffer();
      })),
      'load 1m': loadavg()[0]!.toFixed(2),
    });
    await Promise.all(mcp.map((c) => c.close()));
  } finally {
    await listener.close({ graceMs: 0 });
    await engine.shutdown({ graceMs: 0 });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
