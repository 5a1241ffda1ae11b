/**
 * `orchestr8 worker`: runs steps of distributed executions from a PostgreSQL store. Any
 * number of workers, on any machines, share the work; each claims ready steps with a lease,
 * heartbeats while they run, and commits each result with the steps it releases.
 */
import { hostname } from 'node:os';
import { parseDuration } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import { parseStoreUrl } from '@orchestr8/store-sqlite';
import { DEFAULT_QUEUE, startWorker } from '@orchestr8/worker';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { configuredStore, loadProjectConfig } from '../config.js';
import { buildRegistry, collect, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { openStore } from '../open-store.js';

interface WorkerOptions extends CapabilityFlags {
  store?: string;
  agents: string[];
  concurrency: string;
  queues: string[];
  lease: string;
  grace: string;
  id?: string;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run steps of distributed executions from a PostgreSQL store (any number of workers, anywhere)',
    )
    .option(
      '--store <url>',
      'the shared store: postgres://user@host/db (default: $ORCHESTR8_STORE, then the config store)',
    )
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('-c, --concurrency <n>', 'steps run at once', '8')
    .option(
      '-q, --queues <names>',
      `take steps from these queues (comma-separated or repeated; default "${DEFAULT_QUEUE}")`,
      collect,
      [],
    )
    .option('--lease <duration>', "how long a claimed step stays this worker's without a heartbeat", '30s')
    .option('--grace <duration>', 'on SIGTERM, how long running steps get to finish', '10s')
    .option('--id <id>', "this worker's id (default: a random UUID)")
    .addHelpText(
      'after',
      '\nSteps name their queue with `queue:` in the document; a worker takes only the queues it serves, so ' +
        'steps needing an agent or hardware go to the workers that have it.\n' +
        'A worker that dies loses its leases: once they expire another worker runs those steps again, ' +
        'with the same ctx.idempotencyKey.\n' +
        'On SIGTERM or SIGINT the worker takes no new steps, lets running ones finish within --grace, and returns ' +
        'the rest to the queue.\nExit codes: 0 stopped cleanly, 1 failed, 2 usage.',
    )
    .action(async (opts: WorkerOptions) => {
      process.exitCode = await workerCommand(opts);
    });
}

function positiveInt(name: string, value: string): number | string {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 10_000)
    return `${name} must be an integer from 1 to 10000, got "${value}"`;
  return n;
}

async function workerCommand(opts: WorkerOptions): Promise<number> {
  const concurrency = positiveInt('--concurrency', opts.concurrency);
  if (typeof concurrency === 'string') return failUsage(concurrency);
  let leaseMs: number;
  let graceMs: number;
  try {
    leaseMs = parseDuration(opts.lease);
    graceMs = parseDuration(opts.grace);
  } catch (e) {
    return failUsage((e as Error).message);
  }
  if (leaseMs < 1000) return failUsage(`--lease must be at least 1s, got "${opts.lease}"`);
  const queues = opts.queues
    .flatMap((q) => q.split(','))
    .map((q) => q.trim())
    .filter(Boolean);
  for (const q of queues) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(q)) return failUsage(`invalid queue name "${q}"`);
  }

  let store: PostgresStore | undefined;
  try {
    const config = await loadProjectConfig();
    const spec = configuredStore(opts.store, config);
    if (parseStoreUrl(spec).kind !== 'postgres') {
      return failUsage(
        `workers share a PostgreSQL store: pass --store postgres://user@host/db or set ORCHESTR8_STORE (got "${spec}")`,
      );
    }
    const registry = await buildRegistry(opts.agents, config);
    store = (await openStore(spec)) as PostgresStore;
    const worker = await startWorker({
      store,
      registry,
      concurrency,
      queues: queues.length > 0 ? queues : [DEFAULT_QUEUE],
      leaseMs,
      remoteAgent: remoteAgentFor,
      capabilities: capabilitiesFor(config, opts),
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      logger: {
        debug() {},
        info() {},
        warn: (m) => process.stderr.write(`${m}\n`),
        error: (m, d) => process.stderr.write(`${m}${d?.error ? `: ${String(d.error)}` : ''}\n`),
      },
    });
    process.stderr.write(
      `worker ${worker.id} on ${hostname()} (pid ${process.pid}) · store ${store.where} · queues ` +
        `${(queues.length > 0 ? queues : [DEFAULT_QUEUE]).join(',')} · concurrency ${concurrency}\n`,
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    process.stderr.write(`${signal}: stopping (grace ${graceMs} ms)…\n`);
    const force = () => process.exit(ExitCode.failed);
    process.once('SIGTERM', force);
    process.once('SIGINT', force);
    await worker.stop({ graceMs });
    process.stderr.write(`stopped after ${worker.stepsDone} step(s)\n`);
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  } finally {
    await store?.close().catch(() => {});
  }
}
