import type { CompiledWait, CompiledWaitEvent } from './compiled.js';
import { DiagnosticCode, error, type PendingDiagnostic } from './diagnostics.js';
import type { StepDocument, WaitEventDocument } from './document-schema.js';
import { parseDuration } from './duration.js';
import { type CompiledExpression, compileExpression, ExpressionError } from './expression.js';
import { type CompiledValue, collectRefs } from './template.js';

/**
 * Semantic checks and compilation of a step's `wait` (the schema has checked the shapes):
 * exactly one of agent and wait, exactly one kind of wait, an `until` that is ISO-8601 when
 * it is literal, no wait in a forEach step, `match` conditions that compile (they alone may
 * read `event.*`), and a timeout only where it means something.
 */

export const WAIT_KINDS = ['timer', 'until', 'event', 'any', 'all', 'approval'] as const;

/** What compile-steps.ts lends this module: its template compiler and reference checks for the step. */
export interface WaitHelpers {
  report: (d: PendingDiagnostic) => void;
  /** Compiles a value read by the step (its upstream steps, inputs, variables, ...). */
  compileAt: (value: unknown, at: string, what: string) => CompiledValue;
  /** Checks an expression's references, other than event.*, as the step's condition would be. */
  checkRefs: (expr: CompiledExpression, at: string) => void;
}

/** ISO-8601 date or date-time (with an optional zone), as `Date.parse` reads it. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export function isIsoDateTime(s: string): boolean {
  return ISO_DATE_TIME.test(s) && !Number.isNaN(Date.parse(s));
}

/** Checks the step's agent/wait choice and compiles its wait; undefined when it has none (or it is invalid). */
export function compileStepWait(step: StepDocument, base: string, h: WaitHelpers): CompiledWait | undefined {
  const w = step.wait;
  if (w === undefined) {
    if (step.agent === undefined)
      h.report(
        error(DiagnosticCode.WAIT, base, `step "${step.id}" has neither agent nor wait`, {
          hint: 'add agent: <id> to call an agent, or wait: {timer|until|event|any|all|approval} to wait',
        }),
      );
    return undefined;
  }
  const at = `${base}/wait`;
  if (step.agent !== undefined) {
    h.report(
      error(
        DiagnosticCode.WAIT,
        `${base}/agent`,
        `step "${step.id}" has both agent and wait; use one of them`,
      ),
    );
  }
  if (step.forEach !== undefined)
    h.report(
      error(
        DiagnosticCode.WAIT,
        `${base}/forEach`,
        `step "${step.id}" waits: a wait step cannot have forEach`,
        {
          hint: 'wait in a sub-workflow called per item, or wait for all of the events with wait.all',
        },
      ),
    );
  const kinds = WAIT_KINDS.filter((k) => w[k] !== undefined);
  if (kinds.length !== 1) {
    h.report(
      error(
        DiagnosticCode.WAIT,
        at,
        kinds.length === 0
          ? `the wait of step "${step.id}" says nothing to wait for`
          : `the wait of step "${step.id}" has ${kinds.join(' and ')}: a wait has exactly one of ${WAIT_KINDS.join(', ')}`,
      ),
    );
    return undefined;
  }
  const kind = kinds[0]!;
  const out: CompiledWait = { kind };
  switch (kind) {
    case 'timer':
      out.delayMs = parseDuration(w.timer!);
      break;
    case 'until': {
      const v = h.compileAt(w.until, `${at}/until`, 'wait.until');
      if (collectRefs(v).length === 0 && !isIsoDateTime(w.until!))
        h.report(
          error(DiagnosticCode.WAIT, `${at}/until`, `wait.until "${w.until}" is not an ISO-8601 date-time`, {
            hint: 'e.g. "2030-01-01T09:00:00Z", or a template such as ${steps.order.output.shipBy}',
          }),
        );
      out.until = v;
      break;
    }
    case 'event':
      out.events = [compileEvent(w.event!, `${at}/event`, h)];
      break;
    case 'any':
    case 'all':
      out.events = w[kind]!.map((e, i) => compileEvent(e, `${at}/${kind}/${i}`, h));
      break;
    case 'approval': {
      const a = w.approval!;
      out.approval = { title: h.compileAt(a.title, `${at}/approval/title`, 'approval title') };
      if (a.description !== undefined)
        out.approval.description = h.compileAt(
          a.description,
          `${at}/approval/description`,
          'approval description',
        );
      if (a.form !== undefined) out.approval.form = a.form;
      if (a.approvers !== undefined) out.approval.approvers = [...a.approvers];
      break;
    }
  }
  if (w.timeout !== undefined) {
    if (kind === 'timer' || kind === 'until')
      h.report(
        error(
          DiagnosticCode.WAIT,
          `${at}/timeout`,
          `a ${kind} wait ends at its own time: timeout applies to events and approvals`,
        ),
      );
    else out.timeoutMs = parseDuration(w.timeout);
  }
  if (w.onTimeout !== undefined && w.onTimeout !== 'fail') {
    if (w.timeout === undefined)
      h.report(error(DiagnosticCode.WAIT, `${at}/onTimeout`, 'onTimeout needs a timeout'));
    out.onTimeoutOutput = h.compileAt(w.onTimeout.output, `${at}/onTimeout/output`, 'onTimeout output');
  }
  return out;
}

function compileEvent(e: WaitEventDocument, at: string, h: WaitHelpers): CompiledWaitEvent {
  const out: CompiledWaitEvent = { name: e.name };
  if (e.match === undefined) return out;
  try {
    const expr = compileExpression(e.match);
    h.checkRefs(expr, `${at}/match`);
    out.match = expr;
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    h.report(error(DiagnosticCode.EXPRESSION, `${at}/match`, err.message));
  }
  return out;
}
