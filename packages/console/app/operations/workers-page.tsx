import { useEffect, useState } from 'react';
import { ErrorText } from '../components/common.js';
import { ApiError } from '../lib/api.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { formatMs } from '../lib/timeline.js';
import { useGet } from '../lib/use-api.js';

interface WorkerView {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  startedAt: number;
  heartbeatAt: number;
  heartbeatAgeMs: number;
  stepsDone: number;
  running: { executionId: string; stepId: string; leaseExpiresAt: number; claims: number }[];
}

/** Workers of a PostgreSQL set-up, their heartbeats and the leases they hold, counting down. */
export function WorkersPage() {
  const w = useGet<{ workers: WorkerView[]; queues: { queue: string; ready: number; leased: number }[] }>(
    '/workers',
    { pollMs: 2000 },
  );
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, []);
  if (w.error instanceof ApiError && w.error.status === 404)
    return (
      <section>
        <h2>Workers</h2>
        <p className="muted">
          Workers and leases exist on a PostgreSQL store with <code>orchestr8 worker</code> processes; this
          server has none.
        </p>
      </section>
    );
  return (
    <section aria-labelledby="workers-title">
      <h2 id="workers-title">Workers</h2>
      <ErrorText error={w.error} />
      <table aria-label="Workers">
        <thead>
          <tr>
            <th>Worker</th>
            <th>Queues</th>
            <th>Heartbeat</th>
            <th>Steps done</th>
            <th>Current steps (lease expires in)</th>
          </tr>
        </thead>
        <tbody>
          {w.data?.workers.map((x) => (
            <tr key={x.id}>
              <td className="mono">
                {x.id}
                <div className="muted">
                  {x.host} pid {x.pid} · {x.concurrency} at once
                </div>
              </td>
              <td>{x.queues.join(', ')}</td>
              <td>{formatMs(Math.max(0, now - x.heartbeatAt))} ago</td>
              <td>{x.stepsDone}</td>
              <td>
                {x.running.map((r) => (
                  <div
                    key={`${r.executionId}/${r.stepId}`}
                    data-lease={`${r.executionId}/${r.stepId}`}
                    data-remaining-ms={Math.max(0, r.leaseExpiresAt - now)}
                  >
                    <Link href={href.execution(r.executionId)}>{r.executionId.slice(0, 8)}</Link> / {r.stepId}{' '}
                    <span className={r.leaseExpiresAt < now ? 'error' : 'muted'}>
                      {r.leaseExpiresAt < now ? 'expired' : formatMs(r.leaseExpiresAt - now)}
                    </span>
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Queues</h3>
      <table aria-label="Queues">
        <thead>
          <tr>
            <th>Queue</th>
            <th>Ready</th>
            <th>Leased</th>
          </tr>
        </thead>
        <tbody>
          {w.data?.queues.map((q) => (
            <tr key={q.queue}>
              <td>{q.queue}</td>
              <td>{q.ready}</td>
              <td>{q.leased}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
