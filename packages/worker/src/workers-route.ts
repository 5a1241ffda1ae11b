/**
 * `GET /workers`: the live workers with their heartbeats and the steps they hold, for
 * `orchestr8 serve`. The route is a plain (req, res) handler so this package does not
 * depend on the HTTP framework: the server mounts it.
 */
import { type PostgresStore, TaskQueue, type WorkerInfo } from '@orchestr8/store-postgres';

/** Workers silent for longer than this are taken for dead and not listed. */
export const DEFAULT_STALE_MS = 60_000;

export interface WorkersView {
  workers: (WorkerInfo & { heartbeatAgeMs: number })[];
  queues: { queue: string; ready: number; leased: number }[];
}

/** Live workers (heartbeat within `staleMs`) and the depth of every queue. */
export async function listWorkers(store: PostgresStore, staleMs = DEFAULT_STALE_MS): Promise<WorkersView> {
  const queue = new TaskQueue(store);
  const [workers, queues] = await Promise.all([queue.listWorkers(staleMs), queue.depth()]);
  const now = Date.now();
  return {
    workers: workers.map((w) => ({ ...w, heartbeatAgeMs: Math.max(0, now - w.heartbeatAt) })),
    queues,
  };
}

interface JsonResponse {
  json(body: unknown): unknown;
}

/** The route definition in the shape `@orchestr8/server` tables its routes. */
export function workersRoute(store: PostgresStore): {
  method: 'get';
  path: '/workers';
  handler: (req: unknown, res: JsonResponse) => Promise<void>;
} {
  return {
    method: 'get',
    path: '/workers',
    handler: async (_req, res) => {
      res.json(await listWorkers(store));
    },
  };
}
