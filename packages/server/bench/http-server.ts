/**
 * The server under load for `http.bench.ts`, in its own process so the load generator
 * does not share its event loop: a SQLite file, the built-in agents, the default options
 * (rate limiting on, which leaves loopback clients alone). Reports its URL over IPC.
 */
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { createServer } from '@orchestr8/server';
import { openSqliteStore } from '@orchestr8/store-sqlite';

const path = process.argv[2];
if (!path || !process.send) throw new Error('usage: forked with a database path');
const store = await openSqliteStore({ path });
const registry = createAgentRegistry(builtinAgents);
const engine = createEngine({ registry, store });
const listener = await createServer({ engine, registry }).listen(0, '127.0.0.1');
process.send({ url: listener.url });
process.on('message', async (m) => {
  if (m === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ cpuUs: user + system });
    return;
  }
  if (m !== 'stop') return;
  await Promise.all([listener.close({ graceMs: 1000 }), engine.shutdown({ graceMs: 1000 })]);
  await store.close();
  process.exit(0);
});
