import { useEffect, useRef, useState } from 'react';
import { ConfirmDialog, ErrorText } from '../components/common.js';
import { enc } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { href } from '../lib/routes.js';
import { useApi } from '../lib/use-api.js';

interface Plan {
  rerun: string[];
  reused: string[];
  changedInputs?: string[];
}

/** The plan the server gave for exactly this step and this inputs text. */
interface PlanFor {
  step: string;
  text: string;
  plan: Plan;
}

type Dialog = 'cancel' | 'resume' | 'retry' | 'rerun' | undefined;

/** How long the inputs must stay unchanged before the plan is asked for again. */
const REPLAN_AFTER_MS = 500;

/**
 * Cancel (while it runs), Retry (once failed: the failed steps again in the same execution,
 * completed outputs kept) and Rerun from a step (a new execution reusing what is upstream of
 * the step), each behind a confirmation; a rerun's plan is asked of the server first.
 * A rerun starts only with the step and inputs its plan was made for: editing either hides the
 * plan and disables the confirmation until the plan for the new values is shown (asked again
 * after a pause in typing, or at once with Update plan).
 */
export function Actions(props: {
  executionId: string;
  status: string | undefined;
  stepIds: readonly string[];
  selectedStep: string | undefined;
  inputs: unknown;
  onChanged: () => void;
}) {
  const api = useApi();
  const [dialog, setDialog] = useState<Dialog>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [fromStep, setFromStep] = useState('');
  const [inputsText, setInputsText] = useState('');
  const [planned, setPlanned] = useState<PlanFor>();
  // Only the newest plan request may set the plan: an older answer is for other values.
  const planRequest = useRef(0);
  const replanTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(replanTimer.current), []);
  const id = props.executionId;
  const running = props.status === 'running' || props.status === 'queued' || props.status === 'waiting';
  const finished = props.status === 'completed' || props.status === 'failed' || props.status === 'cancelled';

  const open = (d: Dialog) => {
    setError(undefined);
    setPlanned(undefined);
    if (d === 'rerun') {
      const step = props.selectedStep ?? props.stepIds[0] ?? '';
      setFromStep(step);
      setInputsText(JSON.stringify(props.inputs ?? {}, null, 2));
      void loadPlan(step, JSON.stringify(props.inputs ?? {}, null, 2));
    }
    setDialog(d);
  };
  const parsedInputs = (text: string): Record<string, unknown> | undefined => {
    try {
      const v = JSON.parse(text) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        throw new Error('the inputs must be a JSON object');
      return v as Record<string, unknown>;
    } catch (e) {
      setError({ code: 'VALIDATION', message: `inputs: ${(e as Error).message}` });
      return undefined;
    }
  };
  const loadPlan = async (step: string, text: string) => {
    clearTimeout(replanTimer.current);
    const request = ++planRequest.current;
    setPlanned(undefined);
    setError(undefined);
    const inputs = parsedInputs(text);
    if (!inputs || !step) return;
    try {
      const r = await api.post<{ plan: Plan }>(
        `/executions/${enc(id)}/rerun`,
        { fromStep: step, inputs, dryRun: true },
        {},
        { changesNothing: true },
      );
      if (request === planRequest.current) setPlanned({ step, text, plan: r.plan });
    } catch (e) {
      if (request === planRequest.current) setError(e);
    }
  };
  /** The inputs changed: the plan shown is no longer theirs; ask again once typing pauses. */
  const replanSoon = (step: string, text: string) => {
    clearTimeout(replanTimer.current);
    planRequest.current++;
    setPlanned(undefined);
    setError(undefined);
    replanTimer.current = setTimeout(() => void loadPlan(step, text), REPLAN_AFTER_MS);
  };
  // The plan shown, if it is for exactly what Start rerun would send.
  const plan = planned && planned.step === fromStep && planned.text === inputsText ? planned : undefined;
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      setDialog(undefined);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="row">
      <button type="button" className="danger" disabled={!running} onClick={() => open('cancel')}>
        Cancel
      </button>
      <button
        type="button"
        disabled={props.status !== 'running' && props.status !== 'queued'}
        onClick={() => open('resume')}
      >
        Resume
      </button>
      <button type="button" disabled={props.status !== 'failed'} onClick={() => open('retry')}>
        Retry
      </button>
      <button type="button" disabled={!finished || props.stepIds.length === 0} onClick={() => open('rerun')}>
        Rerun from step…
      </button>
      <ConfirmDialog
        title="Cancel this execution?"
        open={dialog === 'cancel'}
        confirmLabel="Cancel execution"
        danger
        busy={busy}
        onClose={() => setDialog(undefined)}
        onConfirm={() =>
          run(async () => {
            await api.post(`/executions/${enc(id)}/cancel`, { reason: 'cancelled from the console' });
            props.onChanged();
          })
        }
      >
        <p>Running steps are told to stop; steps not started yet will not run.</p>
        <ErrorText error={error} />
      </ConfirmDialog>
      <ConfirmDialog
        title="Resume this execution?"
        open={dialog === 'resume'}
        confirmLabel="Resume"
        busy={busy}
        onClose={() => setDialog(undefined)}
        onConfirm={() =>
          run(async () => {
            await api.post(`/executions/${enc(id)}/resume`);
            props.onChanged();
          })
        }
      >
        <p>
          For an execution left running by a process that stopped: this server carries it on from where it
          stopped (completed steps are not run again). If it already runs here, nothing changes.
        </p>
        <ErrorText error={error} />
      </ConfirmDialog>
      <ConfirmDialog
        title="Retry the failed steps?"
        open={dialog === 'retry'}
        confirmLabel="Retry"
        busy={busy}
        onClose={() => setDialog(undefined)}
        onConfirm={() =>
          run(async () => {
            await api.post(`/executions/${enc(id)}/retry`, {});
            props.onChanged();
          })
        }
      >
        <p>
          In this same execution, the failed steps (and the steps they gate) run again with a fresh retry
          budget. Completed steps keep their outputs.
        </p>
        <ErrorText error={error} />
      </ConfirmDialog>
      <ConfirmDialog
        title="Rerun from a step"
        open={dialog === 'rerun'}
        confirmLabel="Start rerun"
        busy={busy || plan === undefined}
        onClose={() => {
          clearTimeout(replanTimer.current);
          planRequest.current++;
          setDialog(undefined);
        }}
        onConfirm={() =>
          run(async () => {
            // What the plan shown was made for, nothing else.
            if (!plan) throw { code: 'VALIDATION', message: 'the plan is not up to date' };
            const inputs = parsedInputs(plan.text);
            if (!inputs) throw { code: 'VALIDATION', message: 'the inputs are not a JSON object' };
            const r = await api.post<{ executionId: string }>(`/executions/${enc(id)}/rerun`, {
              fromStep: plan.step,
              inputs,
            });
            navigate(href.execution(r.executionId));
          })
        }
      >
        <p>
          A new execution, linked to this one, reuses the outputs of the steps upstream of the chosen step.
        </p>
        <label className="field">
          From step
          <select
            value={fromStep}
            onChange={(e) => {
              setFromStep(e.target.value);
              void loadPlan(e.target.value, inputsText);
            }}
          >
            {props.stepIds.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Inputs (JSON)
          <textarea
            rows={5}
            value={inputsText}
            onChange={(e) => {
              setInputsText(e.target.value);
              replanSoon(fromStep, e.target.value);
            }}
          />
        </label>
        <button type="button" onClick={() => loadPlan(fromStep, inputsText)}>
          Update plan
        </button>
        {plan ? (
          <div data-testid="rerun-plan">
            <p>
              <strong>Runs again:</strong>{' '}
              <span data-plan="rerun">{plan.plan.rerun.join(', ') || 'nothing'}</span>
            </p>
            <p>
              <strong>Reused:</strong>{' '}
              <span data-plan="reused">{plan.plan.reused.join(', ') || 'nothing'}</span>
            </p>
            {plan.plan.changedInputs && plan.plan.changedInputs.length > 0 ? (
              <p>
                <strong>Inputs changed:</strong>{' '}
                <span data-plan="changed">{plan.plan.changedInputs.join(', ')}</span> (the steps that read
                them run again)
              </p>
            ) : null}
          </div>
        ) : error ? null : (
          <p className="muted" data-testid="rerun-plan-pending" aria-live="polite">
            Planning… (the rerun can start once the plan for these inputs is shown)
          </p>
        )}
        <ErrorText error={error} />
      </ConfirmDialog>
    </div>
  );
}
