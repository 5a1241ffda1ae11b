/**
 * The baseline of `http.bench.ts`: a bare express handler that writes, in one SQLite
 * transaction, the rows a 1-step execution leaves (the execution, its step, four journal
 * entries), and answers with a result of the same shape. Same database schema (made by the
 * store's migrations), same driver (libsql, the store's) and the same pragmas as the store;
 * no validation, no engine, no middleware but `express.json()`. Forked like the server.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import express from 'express';

const path = process.argv[2];
if (!path || !process.send) throw new Error('usage: forked with a database path');
// The schema, exactly as the store makes it.
await (await openSqliteStore({ path })).close();

// The store's driver, through the store's own dependency (the server package does not declare it).
const Database = createRequire(import.meta.resolve('@orchestr8/store-sqlite'))('libsql') as new (
  path: string,
) => {
  exec(sql: string): void;
  prepare(sql: string): { run(...args: unknown[]): unknown };
  transaction<T extends (...args: never[]) => void>(fn: T): T;
  close(): void;
};
const db = new Database(path);
db.exec('PRAGMA busy_timeout = 5000');
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = NORMAL');
db.exec('PRAGMA foreign_keys = ON');

const insertExecution = db.prepare(
  `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, inputs, result,
     status_reason, created_at, started_at, finished_at, updated_at)
   VALUES (?, ?, ?, ?, 'completed', ?, ?, 'all steps finished', ?, ?, ?, ?)`,
);
const insertStep = db.prepare(
  `INSERT INTO steps (execution_id, step_id, status, attempts, output, started_at, finished_at, idempotency_key)
   VALUES (?, ?, 'completed', 1, ?, ?, ?, ?)`,
);
const insertEntry = db.prepare(
  `INSERT INTO journal (execution_id, seq, ts, elapsed_ms, type, step_id, attempt, data)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
);
const HASH = '0'.repeat(64);

const write = db.transaction((id: string, workflowId: string, inputs: unknown, now: number) => {
  const output = JSON.stringify({ n: 1 });
  insertExecution.run(
    id,
    workflowId,
    '1.0.0',
    HASH,
    JSON.stringify(inputs),
    JSON.stringify({ echo: { n: 1 } }),
    now,
    now,
    now,
    now,
  );
  insertStep.run(id, 'echo', output, now, now, `${id}:echo`);
  insertEntry.run(
    id,
    1,
    now,
    0.1,
    'execution.started',
    null,
    null,
    JSON.stringify({ workflowId, workflowVersion: '1.0.0', inputs }),
  );
  insertEntry.run(
    id,
    2,
    now,
    0.2,
    'step.started',
    'echo',
    1,
    JSON.stringify({ agent: '@orchestr8/echo', input: { n: 1 } }),
  );
  insertEntry.run(
    id,
    3,
    now,
    0.3,
    'step.completed',
    'echo',
    1,
    JSON.stringify({ output: { n: 1 }, durationMs: 0.1 }),
  );
  insertEntry.run(
    id,
    4,
    now,
    0.4,
    'execution.completed',
    null,
    null,
    JSON.stringify({ durationMs: 0.3, outputs: { echo: { n: 1 } } }),
  );
});

const app = express();
app.use(express.json());
app.post('/workflows/execute', (req, res) => {
  const id = randomUUID();
  const now = Date.now();
  const workflowId = String((req.body as { workflowId?: unknown }).workflowId);
  const inputs = (req.body as { inputs?: unknown }).inputs ?? {};
  write(id, workflowId, inputs, now);
  res.status(200).json({
    executionId: id,
    workflowId,
    workflowVersion: '1.0.0',
    status: 'completed',
    steps: {
      echo: {
        executionId: id,
        stepId: 'echo',
        status: 'completed',
        attempts: 1,
        startedAt: now,
        idempotencyKey: `${id}:echo`,
        output: { n: 1 },
        finishedAt: now,
      },
    },
    outputs: { echo: { n: 1 } },
    statusReason: 'all steps finished',
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
  });
});
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.send!({ url: `http://127.0.0.1:${addr.port}` });
});
process.on('message', (m) => {
  if (m === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ cpuUs: user + system });
    return;
  }
  if (m !== 'stop') return;
  server.close();
  server.closeAllConnections();
  db.close();
  process.exit(0);
});
