import { useState } from 'react';
import { filterJournal, type JournalEntryLike } from '../lib/execution-state.js';

export function JournalView({
  entries,
  stepIds,
}: {
  entries: readonly JournalEntryLike[];
  stepIds: readonly string[];
}) {
  const [stepId, setStepId] = useState('');
  const [type, setType] = useState('');
  const [text, setText] = useState('');
  const types = [...new Set(entries.map((e) => e.type))].sort();
  const shown = filterJournal(entries, { stepId, type, text });
  return (
    <section aria-label="Journal">
      <div className="row" style={{ marginBottom: 8 }}>
        <label>
          Step{' '}
          <select value={stepId} onChange={(e) => setStepId(e.target.value)}>
            <option value="">all</option>
            {stepIds.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type{' '}
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">all</option>
            <option value="execution">execution.*</option>
            <option value="step">step.*</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Text <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <span className="muted">
          {shown.length} of {entries.length}
        </span>
      </div>
      <table aria-label="Journal entries">
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Type</th>
            <th>Step</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(-2000).map((e) => (
            <tr key={e.seq} data-type={e.type}>
              <td>{e.seq}</td>
              <td className="mono">{new Date(e.ts).toISOString().slice(11, 23)}</td>
              <td className="mono">{e.type}</td>
              <td className="mono">
                {e.stepId ?? ''}
                {e.attempt !== undefined ? ` #${e.attempt}` : ''}
              </td>
              <td
                className="mono"
                style={{ maxWidth: 520, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
              >
                {e.data === undefined ? '' : JSON.stringify(e.data)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
