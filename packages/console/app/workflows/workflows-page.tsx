import { useEffect, useMemo, useState } from 'react';
import { ErrorText, Time } from '../components/common.js';
import { Dag } from '../execution/dag.js';
import { SimpleGraph } from '../execution/simple-graph.js';
import { ApiError, enc } from '../lib/api.js';
import { cachedLayout } from '../lib/graph.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { useApi, useGet } from '../lib/use-api.js';
import { RunForm } from './run-form.js';

interface Version {
  id: string;
  version: string;
  hash: string;
  createdAt: number;
}

export function WorkflowsPage() {
  const list = useGet<{ items: { id: string; latestVersion?: string; versions: Version[] }[] }>('/workflows');
  return (
    <section aria-labelledby="workflows-title">
      <h2 id="workflows-title">Workflows</h2>
      <ErrorText error={list.error} />
      <table aria-label="Workflows">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Latest version</th>
            <th>Versions</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((w) => (
            <tr key={w.id}>
              <td>
                <Link href={href.workflow(w.id)}>{w.id}</Link>
              </td>
              <td>{w.latestVersion}</td>
              <td>{w.versions.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.items.length === 0 ? (
        <p className="muted">
          No registered workflows. Register one with <code>PUT /workflows/&lt;id&gt;</code> or run one with{' '}
          <code>orchestr8 run</code>.
        </p>
      ) : null}
    </section>
  );
}

interface Diagnostic {
  severity?: string;
  code?: string;
  message: string;
  pointer?: string;
  line?: number;
  column?: number;
}

function Diagnostics({ document }: { document: unknown }) {
  const api = useApi();
  const [state, setState] = useState<{ valid: boolean; diagnostics: Diagnostic[] } | 'unavailable'>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let cancelled = false;
    // The server's own check (schema, semantics, this host's agents and capabilities).
    api
      .post<{ valid: boolean; diagnostics?: Diagnostic[] }>(
        '/workflows/validate',
        { document },
        {},
        { changesNothing: true },
      )
      .then(
        (r) => !cancelled && setState({ valid: r.valid, diagnostics: r.diagnostics ?? [] }),
        (e: unknown) => {
          if (cancelled) return;
          if (e instanceof ApiError && (e.status === 404 || e.status === 405)) setState('unavailable');
          else setError(e);
        },
      );
    return () => {
      cancelled = true;
    };
  }, [api, document]);
  if (error) return <ErrorText error={error} />;
  if (state === undefined) return <p className="muted">Validating…</p>;
  if (state === 'unavailable')
    return (
      <p className="muted">
        This server cannot validate documents on request; a registered version passed validation when it was
        registered.
      </p>
    );
  return (
    <div data-testid="diagnostics" data-valid={state.valid ? 'true' : 'false'}>
      <p className={state.valid ? undefined : 'error'}>
        {state.valid ? '✓ valid' : '✕ invalid'}
        {state.diagnostics.length === 0 ? ', no warnings' : ''}
      </p>
      <ul>
        {state.diagnostics.map((d) => (
          <li
            key={`${d.severity}-${d.pointer}-${d.message}`}
            className={d.severity === 'error' ? 'error' : undefined}
          >
            {d.severity} {d.code ? <code>{d.code}</code> : null} {d.pointer ? <code>{d.pointer}</code> : null}
            {d.line ? ` (line ${d.line}:${d.column ?? 1})` : ''} {d.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function WorkflowPage({ id }: { id: string }) {
  const [version, setVersion] = useState<string>();
  // This workflow's versions only: the whole list costs the server a read per workflow.
  const list = useGet<{ id: string; latestVersion?: string; versions: Version[] }>(
    `/workflows/${enc(id)}/versions`,
  );
  const versions = list.data?.versions ?? [];
  const def = useGet<Version & { document: Record<string, unknown> }>(
    `/workflows/${enc(id)}${version ? `?version=${enc(version)}` : ''}`,
  );
  const d = def.data;
  const model = useMemo(() => (d ? cachedLayout(d.hash, d.document) : undefined), [d]);
  return (
    <section aria-labelledby="workflow-title">
      <h2 id="workflow-title">
        Workflow <span className="mono">{id}</span>
      </h2>
      <ErrorText error={def.error} />
      <div className="row">
        <label>
          Version{' '}
          <select value={version ?? d?.version ?? ''} onChange={(e) => setVersion(e.target.value)}>
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                {v.version}
              </option>
            ))}
          </select>
        </label>
        {d ? (
          <span className="muted">
            registered <Time ms={d.createdAt} /> · <span className="mono">{d.hash.slice(0, 12)}</span>
          </span>
        ) : null}
        <Link href={`${href.executions(`workflow=${enc(id)}`)}`}>Executions</Link>
      </div>
      {d && model ? (
        <>
          <div className="split" style={{ marginTop: 12 }}>
            {model.simplified ? (
              <SimpleGraph model={model} states={{}} selected={undefined} onSelect={() => {}} />
            ) : (
              <Dag model={model} states={{}} selected={undefined} onSelect={() => {}} />
            )}
            <div className="panel">
              <h3 style={{ marginTop: 0 }}>Run</h3>
              <RunForm key={d.hash} workflowId={id} version={d.version} inputsSchema={d.document.inputs} />
            </div>
          </div>
          <h3>Validation</h3>
          <Diagnostics document={d.document} />
          <h3>Document</h3>
          <figure aria-label="document" style={{ margin: 0 }}>
            <pre>{JSON.stringify(d.document, null, 2)}</pre>
          </figure>
        </>
      ) : null}
    </section>
  );
}
