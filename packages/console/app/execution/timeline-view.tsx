import type { StepView } from '../lib/execution-state.js';
import { statusVar } from '../lib/status.js';
import { buildTimeline, formatMs } from '../lib/timeline.js';

export function TimelineView({ steps, now }: { steps: readonly StepView[]; now: number }) {
  const t = buildTimeline(steps, now);
  if (t.rows.length === 0) return <p className="muted">No attempts yet.</p>;
  const pct = (ms: number) => `${(ms / t.span) * 100}%`;
  return (
    <table className="gantt-table" aria-label="Timeline of attempts and back-offs">
      <thead>
        <tr>
          <th style={{ width: 160 }}>Step</th>
          <th>0 – {formatMs(t.span)}</th>
        </tr>
      </thead>
      <tbody>
        {t.rows.map((r) => (
          <tr key={r.stepId} data-step={r.stepId}>
            <td className="mono">{r.stepId}</td>
            <td>
              <div className="gantt-track">
                {r.bars.map((b) => (
                  <span
                    key={`${b.kind}-${b.attempt}`}
                    className={`bar ${b.kind}`}
                    data-kind={b.kind}
                    title={`${b.kind === 'backoff' ? 'back-off after attempt' : 'attempt'} ${b.attempt}: ${formatMs(b.end - b.start)}${b.kind === 'attempt' ? ` (${b.outcome})` : ''}`}
                    style={{
                      left: pct(b.start),
                      width: pct(Math.max(0, b.end - b.start)),
                      ...(b.kind === 'attempt' ? { background: statusVar(b.outcome) } : {}),
                    }}
                  />
                ))}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
