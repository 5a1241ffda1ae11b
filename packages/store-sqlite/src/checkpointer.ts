/**
 * Background checkpoints. In WAL mode a commit appends to the `-wal` file; a checkpoint later
 * copies those pages into the database file and fsyncs both. Left to SQLite, the checkpoint
 * runs inside the COMMIT that crosses 1,000 pages, on the event loop: every few hundred
 * executions one commit copies megabytes and waits for two fsyncs. Here a worker thread with
 * its own connection runs a PASSIVE checkpoint (it never blocks writers) whenever commits
 * happened in the last interval, so the event loop only appends to the WAL.
 *
 * Durability is unchanged for what the store promises (a committed transaction survives a
 * crash or SIGKILL of the process: it is in the WAL) and better against power loss: the WAL is
 * synced by the checkpoint within about `intervalMs` of a commit, not only every 1,000 pages.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// CommonJS, run with `eval`: no separate file to find in src/ and in dist/.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.exec('PRAGMA busy_timeout = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)').raw(true);
const commits = new Int32Array(workerData.commits);
let seen = 0;
const tick = () => {
  const now = Atomics.load(commits, 0);
  if (now === seen) return;
  seen = now;
  try { checkpoint.get([]); } catch { /* busy or failing: the next tick, or the backstop, retries */ }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Commits before the worker starts: starting it costs tens of milliseconds, which a command
 * that writes once (a cancel request) or a short test should not pay; a long-lived engine
 * passes this in its first second.
 */
export const START_AFTER_COMMITS = 64;
/** Pages the connection itself checkpoints at, should the worker fall behind or be gone. */
export const BACKSTOP_PAGES = 10_000;
/** SQLite's own default, used again when the worker cannot run. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface Checkpointer {
  /** Called after every COMMIT: cheap (one atomic add); starts the worker once writing goes on. */
  committed(): void;
  /** Stops the worker (after its current checkpoint) and waits for it. */
  stop(): Promise<void>;
}

export function createCheckpointer(options: {
  path: string;
  intervalMs?: number;
  /** Sets the connection's own `wal_autocheckpoint` (pages). */
  setAutocheckpoint: (pages: number) => void;
}): Checkpointer {
  const commits = new Int32Array(new SharedArrayBuffer(4));
  let worker: Worker | undefined;
  let failed = false;
  let exited: Promise<void> | undefined;

  const start = () => {
    try {
      worker = new Worker(WORKER, {
        eval: true,
        workerData: {
          driver: createRequire(import.meta.url).resolve('libsql'),
          path: options.path,
          commits: commits.buffer,
          intervalMs: options.intervalMs ?? 200,
        },
      });
    } catch {
      failed = true;
      return;
    }
    // Never keeps the process alive; the connection's backstop covers a worker that died.
    worker.unref();
    exited = new Promise((resolve) => worker!.once('exit', () => resolve()));
    worker.once('error', () => {
      failed = true;
      worker = undefined;
      options.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    });
    options.setAutocheckpoint(BACKSTOP_PAGES);
  };

  return {
    committed() {
      if (Atomics.add(commits, 0, 1) === START_AFTER_COMMITS && worker === undefined && !failed) start();
    },
    async stop() {
      const w = worker;
      if (w === undefined) return;
      worker = undefined;
      failed = true;
      w.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 5000);
        }),
      ]);
      clearTimeout(timer);
      await w.terminate();
    },
  };
}
