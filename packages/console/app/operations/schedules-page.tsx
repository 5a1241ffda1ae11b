import { useState } from 'react';
import { ErrorText, Time } from '../components/common.js';
import { enc } from '../lib/api.js';
import { useApi, useGet } from '../lib/use-api.js';

interface TriggerInfo {
  workflowId: string;
  workflowVersion: string;
  name: string;
  kind: string;
  paused: boolean;
  schedule?: { cron?: string; everyMs?: number; timezone: string };
  nextFireAt?: number;
  lastFireAt?: number;
  event?: string;
  running: number;
  queued: number;
}

export function SchedulesPage() {
  const list = useGet<{ items: TriggerInfo[] }>('/triggers', { pollMs: 5000 });
  const api = useApi();
  const [error, setError] = useState<unknown>();
  const act = async (t: TriggerInfo, op: 'pause' | 'resume' | 'run') => {
    setError(undefined);
    try {
      await api.post(`/triggers/${enc(t.workflowId)}/${enc(t.name)}/${op}`, {});
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules and triggers</h2>
      <ErrorText error={list.error ?? error} />
      <table aria-label="Triggers">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Trigger</th>
            <th>Kind</th>
            <th>Next fire</th>
            <th>Last fire</th>
            <th>State</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((t) => (
            <tr key={`${t.workflowId}/${t.name}`}>
              <td>{t.workflowId}</td>
              <td className="mono">{t.name}</td>
              <td>
                {t.kind}
                {t.schedule?.cron ? <div className="muted mono">{t.schedule.cron}</div> : null}
                {t.event ? <div className="muted mono">{t.event}</div> : null}
              </td>
              <td>{t.paused ? <span className="muted">paused</span> : <Time ms={t.nextFireAt} />}</td>
              <td>
                <Time ms={t.lastFireAt} />
              </td>
              <td>
                {t.paused ? 'paused' : 'active'} · {t.running} running, {t.queued} queued
              </td>
              <td className="row">
                {t.paused ? (
                  <button type="button" onClick={() => act(t, 'resume')}>
                    Resume
                  </button>
                ) : (
                  <button type="button" onClick={() => act(t, 'pause')}>
                    Pause
                  </button>
                )}
                <button type="button" onClick={() => act(t, 'run')}>
                  Trigger now
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data?.items.length === 0 ? (
        <p className="muted">No triggers: add `triggers` to a registered workflow.</p>
      ) : null}
    </section>
  );
}
