import { useEffect, useMemo, useRef, useState } from 'react';
import { ErrorText, Json, StatusBadge, Time } from '../components/common.js';
import { authHeaders, enc, localKeyStore } from '../lib/api.js';
import { applyEntries, emptyState, type JournalEntryLike, type LiveState } from '../lib/execution-state.js';
import { cachedLayout } from '../lib/graph.js';
import { Link } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { followExecution } from '../lib/sse.js';
import { isTerminal } from '../lib/status.js';
import { useGet } from '../lib/use-api.js';
import { Actions } from './actions.js';
import { Dag, type NodeState } from './dag.js';
import { JournalView } from './journal-view.js';
import { SimpleGraph } from './simple-graph.js';
import { StepPanel, type StepRecord } from './step-panel.js';
import { TimelineView } from './timeline-view.js';

interface ExecutionView {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  status: string;
  outputs?: unknown;
  error?: { code?: string; message?: string };
  statusReason?: string;
  steps: Record<string, StepRecord>;
  startedAt?: number;
  finishedAt?: number;
  rerunOf?: { executionId: string; fromStep: string };
  reruns?: { executionId: string; fromStep?: string; status: string }[];
  trigger?: string;
}

interface ContextView {
  inputs: unknown;
  correlationId?: string;
  parentExecutionId?: string;
  parentStepId?: string;
  definition?: { hash: string; document: unknown };
}

const TERMINAL_EVENTS = new Set(['execution.completed', 'execution.failed', 'execution.cancelled']);
const REFRESH_ON = /^(execution\.|step\.(completed|failed|cancelled|skipped|fallback))/;

type Tab = 'graph' | 'timeline' | 'journal' | 'data';

export function ExecutionPage({ id }: { id: string }) {
  const exec = useGet<ExecutionView>(`/executions/${enc(id)}`);
  const ctx = useGet<ContextView>(`/console/api/executions/${enc(id)}`);
  const [live, setLive] = useState<LiveState>(emptyState);
  const liveRef = useRef(live);
  liveRef.current = live;
  const [entries, setEntries] = useState<JournalEntryLike[]>([]);
  const [connection, setConnection] = useState('connecting');
  const [selected, setSelected] = useState<string>();
  const [tab, setTab] = useState<Tab>('graph');
  const [now, setNow] = useState(Date.now());
  const follower = useRef<ReturnType<typeof followExecution> | undefined>(undefined);
  const reload = exec.reload;

  useEffect(() => {
    let refresh: ReturnType<typeof setTimeout> | undefined;
    const f = followExecution({
      open: (lastEventId, signal) =>
        fetch(`/executions/${enc(id)}/events`, {
          signal,
          headers: {
            accept: 'text/event-stream',
            ...authHeaders(localKeyStore(window.localStorage)),
            ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
          },
        }),
      isTerminal: (type) => TERMINAL_EVENTS.has(type),
      isFinished: () => liveRef.current.finished,
      onEntries: (batch) => {
        setLive((s) => applyEntries(s, batch));
        setEntries((es) => [...es, ...batch]);
        // Outputs and errors come with the execution's view: fetched again, at most twice a second.
        if (batch.some((e) => REFRESH_ON.test(e.type)) && refresh === undefined) {
          refresh = setTimeout(() => {
            refresh = undefined;
            reload();
          }, 500);
        }
      },
      onState: setConnection,
    });
    follower.current = f;
    return () => {
      f.close();
      if (refresh !== undefined) clearTimeout(refresh);
    };
  }, [id, reload]);

  const status = live.status ?? exec.data?.status;
  useEffect(() => {
    if (isTerminal(status)) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [status]);

  const definition = ctx.data?.definition;
  const model = useMemo(
    () => (definition ? cachedLayout(definition.hash, definition.document) : undefined),
    [definition],
  );
  const states = useMemo(() => {
    const out: Record<string, NodeState> = {};
    for (const n of model?.nodes ?? []) {
      const l = live.steps[n.id];
      const r = exec.data?.steps[n.id];
      const output = r?.output ?? l?.output;
      out[n.id] = {
        status: l?.status ?? r?.status ?? 'pending',
        attempts: Math.max(l?.attempts.length ?? 0, r?.attempts ?? 0),
        ...(n.step.forEach && Array.isArray(output) ? { items: output.length } : {}),
        ...(l?.fellBackTo ? { fellBackTo: l.fellBackTo } : {}),
        ...(l?.fallbackFor ? { fallbackFor: l.fallbackFor } : {}),
      };
    }
    return out;
  }, [model, live.steps, exec.data]);
  const stepIds = model?.nodes.map((n) => n.id) ?? Object.keys(exec.data?.steps ?? {});

  if (exec.error) return <ErrorText error={exec.error} />;
  const e = exec.data;
  const onChanged = () => {
    // A retry starts the same execution again: follow its stream on from where it stopped.
    liveRef.current = { ...liveRef.current, finished: false };
    setLive((s) => ({ ...s, finished: false }));
    follower.current?.restart();
    reload();
  };
  return (
    <section aria-labelledby="execution-title">
      <h2 id="execution-title">
        Execution <span className="mono">{id}</span> <StatusBadge status={status} />
      </h2>
      <div className="row muted" style={{ marginBottom: 8 }}>
        {e ? (
          <span>
            workflow <Link href={href.workflow(e.workflowId)}>{e.workflowId}</Link>@{e.workflowVersion}
          </span>
        ) : null}
        <span>
          started <Time ms={e?.startedAt} />
        </span>
        {e?.finishedAt ? (
          <span>
            finished <Time ms={e.finishedAt} />
          </span>
        ) : null}
        {ctx.data?.correlationId ? <span className="mono">trigger {ctx.data.correlationId}</span> : null}
        {ctx.data?.parentExecutionId ? (
          <span>
            parent{' '}
            <Link href={href.execution(ctx.data.parentExecutionId)}>
              {ctx.data.parentExecutionId.slice(0, 8)}
            </Link>
            {ctx.data.parentStepId ? ` (step ${ctx.data.parentStepId})` : ''}
          </span>
        ) : null}
        {e?.rerunOf ? (
          <span data-testid="rerun-of">
            rerun of{' '}
            <Link href={href.execution(e.rerunOf.executionId)}>{e.rerunOf.executionId.slice(0, 8)}</Link> from{' '}
            <span className="mono">{e.rerunOf.fromStep}</span>
          </span>
        ) : null}
        {e?.reruns?.map((r) => (
          <span key={r.executionId} data-testid="rerun">
            rerun <Link href={href.execution(r.executionId)}>{r.executionId.slice(0, 8)}</Link>
            {r.fromStep ? ` from ${r.fromStep}` : ''} ({r.status})
          </span>
        ))}
        <span className="live" data-connection={connection} aria-live="polite">
          {connection === 'live' ? '● live' : connection === 'ended' ? 'finished' : connection}
        </span>
      </div>
      {e?.error ? <ErrorText error={e.error} /> : null}
      <Actions
        executionId={id}
        status={status}
        stepIds={stepIds}
        selectedStep={selected}
        inputs={ctx.data?.inputs}
        onChanged={onChanged}
      />
      <div className="tabs" role="tablist">
        {(['graph', 'timeline', 'journal', 'data'] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === 'data' ? 'Inputs & outputs' : t[0]!.toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      {tab === 'graph' ? (
        <div className="split">
          <div>
            {model ? (
              model.simplified ? (
                <SimpleGraph model={model} states={states} selected={selected} onSelect={setSelected} />
              ) : (
                <Dag model={model} states={states} selected={selected} onSelect={setSelected} />
              )
            ) : (
              <p className="muted">{ctx.error ? 'The definition is not available.' : 'Loading the graph…'}</p>
            )}
            <label className="row" style={{ marginTop: 6 }}>
              Step{' '}
              <select
                aria-label="Select a step"
                value={selected ?? ''}
                onChange={(ev) => setSelected(ev.target.value || undefined)}
              >
                <option value="">–</option>
                {stepIds.map((s) => (
                  <option key={s} value={s}>
                    {s} ({states[s]?.status ?? exec.data?.steps[s]?.status ?? 'pending'})
                  </option>
                ))}
              </select>
            </label>
          </div>
          {selected ? (
            <StepPanel
              stepId={selected}
              live={live.steps[selected]}
              record={e?.steps[selected]}
              entries={entries}
            />
          ) : (
            <aside className="panel muted">
              Select a step (click it, or Tab to it and press Enter) to see its input, output, error, attempts
              and journal.
            </aside>
          )}
        </div>
      ) : null}
      {tab === 'timeline' ? <TimelineView steps={Object.values(live.steps)} now={now} /> : null}
      {tab === 'journal' ? <JournalView entries={entries} stepIds={stepIds} /> : null}
      {tab === 'data' ? (
        <div>
          <h3>Inputs</h3>
          <Json value={ctx.data?.inputs} label="inputs" />
          <h3>Outputs</h3>
          <Json value={e?.outputs} label="outputs" />
        </div>
      ) : null}
    </section>
  );
}
