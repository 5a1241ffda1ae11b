// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import type { CompiledFlowControl, CompiledTrigger } from './compiled.js';
import { DiagnosticCode, error, listNames, type PendingDiagnostic, toPointer } from './diagnostics.js';
import type { FlowControlDocument, TriggerDocument, WorkflowDocument } from './document-schema.js';
import { parseDuration } from './duration.js';
import { type CompiledExpression, compileExpression, ExpressionError } from './expression.js';
import { cronerModule } from './lazy-modules.js';
import { lookupPath } from './path.js';
import { type CompiledValue, compileValueWith, type TemplateRef } from './template.js';
import { type TriggerKind, unknownTriggerField } from './trigger-fields.js';

/**
 * Semantic checks and compilation of a document's `triggers`: a cron expression croner
 * accepts, an IANA timezone the runtime knows, exactly one kind per trigger, unique names,
 * a signing secret that names a `context.secretRefs` entry, and templates and conditions
 * that read only `trigger.*` fields the trigger's kind has (trigger-fields.ts) and `variables.*`
 * (flow-control keys also `inputs.*`).
 */

export const DEFAULT_SIGNATURE_HEADER = 'X-Hub-Signature-256';
export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';
/** Stripe's own default tolerance. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;
export const DEFAULT_CATCH_UP_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_CATCH_UP_MAX = 100;
export const DEFAULT_BATCH_MAX_EVENTS = 100;
export const DEFAULT_MAX_QUEUE = 1000;

/** Whether the runtime knows an IANA timezone name. */
export function isKnownTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A cron expression's problem, or undefined when croner accepts it (5 or 6 fields). */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    return `expected 5 fields (minute hour day month weekday) or 6 (seconds first), found ${fields}`;
  try {
    const { Cron } = cronerModule();
    const c = new Cron(expression, { paused: true, mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
    c.stop();
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^CronPattern: /, '');
  }
}

/** From here croner looks for a cron expression's first run; a leap year, though croner looks years ahead. */
const NEVER_FIRES_FROM = new Date(Date.UTC(2000, 0, 1));

/**
 * Whether a cron expression croner accepts never matches a date (`0 0 31 2 *`, February 31st).
 * One that matches only in leap years (`0 0 29 2 *`) fires.
 */
export function cronNeverFires(expression: string, timezone?: string): boolean {
  try {
    const { Cron } = cronerModule();
    const c = new Cron(expression, { paused: true, mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
    const next = c.nextRun(NEVER_FIRES_FROM);
    c.stop();
    return next === null || next === undefined;
  } catch {
    return false;
  }
}

interface Ctx {
  report: (d: PendingDiagnostic) => void;
  variables: Record<string, unknown>;
  secretRefs: Readonly<Record<string, string>>;
  /** False for `policies.flow`: a request to POST /workflows/execute has no trigger. */
  noTrigger?: boolean;
  /** The kind of the trigger being compiled: which `trigger.*` fields exist. */
  kind?: TriggerKind;
  /** Whether `trigger.batch` exists (the trigger batches, and the reader is not a condition). */
  batched?: boolean;
}

function checkRef(ref: TemplateRef, at: string, what: string, allowInputs: boolean, ctx: Ctx): void {
  if (ref.root === 'trigger' && !ctx.noTrigger) {
    const unknown = ctx.kind && unknownTriggerField(ref.path, ctx.kind, ctx.batched ?? false);
    if (unknown)
      ctx.report(
        error(DiagnosticCode.TEMPLATE, at, `${what} reads ${unknown.message}`, { hint: unknown.hint }),
      );
    return;
  }
  if (ref.root === 'inputs' && allowInputs) return;
  if (ref.root === 'variables') {
    if (!ref.hasDefault && ref.path.length > 0 && lookupPath(ctx.variables, ref.path) === undefined)
      ctx.report(
        error(
          DiagnosticCode.UNKNOWN_VARIABLE,
          at,
          `${what} reads variables${ref.path.map((p) => `.${p}`).join('')}, which is not defined`,
        ),
      );
    return;
  }
  ctx.report(
    error(
      DiagnosticCode.TEMPLATE,
      at,
      ctx.noTrigger
        ? `${what} reads ${ref.source}: a key of policies.flow reads only inputs.* and variables.*`
        : `${what} reads ${ref.source}: a trigger reads only trigger.*, variables.*${allowInputs ? ' and inputs.*' : ''}`,
      {
        hint: ctx.noTrigger
          ? 'e.g. ${inputs.customerId}'
          : 'e.g. ${trigger.time}, ${trigger.body.id}, ${trigger.event.data.id}',
      },
    ),
  );
}

function compileAt(
  value: unknown,
  base: string,
  what: string,
  allowInputs: boolean,
  ctx: Ctx,
): CompiledValue {
  return compileValueWith(value, {
    onRef: (ref, at) => checkRef(ref, base + toPointer(at), what, allowInputs, ctx),
    onProblem: (p, at) => ctx.report(error(p.code, base + toPointer(at), p.message)),
  });
}

function compileFlow(
  flow: Partial<FlowControlDocument>,
  base: string,
  what: string,
  ctx: Ctx,
): CompiledFlowControl {
  const out: CompiledFlowControl = {};
  if (flow.concurrency) {
    out.concurrency = {
      limit: flow.concurrency.limit,
      maxQueue: flow.concurrency.maxQueue ?? DEFAULT_MAX_QUEUE,
    };
    if (flow.concurrency.key !== undefined)
      out.concurrency.key = compileAt(flow.concurrency.key, `${base}/concurrency/key`, what, true, ctx);
  }
  if (flow.debounce !== undefined) out.debounceMs = parseDuration(flow.debounce);
  if (flow.batch)
    out.batch = {
      maxMs: parseDuration(flow.batch.maxMs),
      maxEvents: flow.batch.maxEvents ?? DEFAULT_BATCH_MAX_EVENTS,
    };
  if (flow.debounce !== undefined && flow.batch)
    ctx.report(
      error(DiagnosticCode.TRIGGER, `${base}/batch`, `${what} has both debounce and batch; use one of them`),
    );
  if (flow.rateLimit) {
    out.rateLimit = { limit: flow.rateLimit.limit, perMs: parseDuration(flow.rateLimit.per) };
    if (flow.rateLimit.key !== undefined)
      out.rateLimit.key = compileAt(flow.rateLimit.key, `${base}/rateLimit/key`, what, true, ctx);
  }
  return out;
}

function compileOne(t: TriggerDocument, base: string, docCtx: Ctx): CompiledTrigger | undefined {
  const what = `trigger "${t.name}"`;
  const kinds = (['schedule', 'webhook', 'event'] as const).filter((k) => t[k] !== undefined);
  if (kinds.length !== 1) {
    docCtx.report(
      error(
        DiagnosticCode.TRIGGER,
        base,
        kinds.length === 0
          ? `${what} needs one of schedule, webhook or event`
          : `${what} has ${kinds.join(' and ')}; a trigger has exactly one of schedule, webhook or event`,
        { hint: 'declare one trigger per kind' },
      ),
    );
    return undefined;
  }
  const kind = kinds[0]!;
  const out: CompiledTrigger = { name: t.name, kind };
  let ok = true;
  const ctx: Ctx = { ...docCtx, kind, batched: t.flow?.batch !== undefined };
  if (t.schedule) {
    const s = t.schedule;
    const timezone = s.timezone ?? 'UTC';
    if (!isKnownTimezone(timezone)) {
      ok = false;
      ctx.report(
        error(DiagnosticCode.TRIGGER, `${base}/schedule/timezone`, `unknown timezone "${timezone}"`, {
          hint: 'use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"',
        }),
      );
    }
    if ((s.cron === undefined) === (s.every === undefined)) {
      ok = false;
      ctx.report(
        error(
          DiagnosticCode.TRIGGER,
          `${base}/schedule`,
          `${what}: a schedule has exactly one of cron and every`,
        ),
      );
    } else if (s.cron !== undefined) {
      const problem = cronProblem(s.cron);
      if (!problem && cronNeverFires(s.cron, isKnownTimezone(timezone) ? timezone : undefined)) {
        ok = false;
        ctx.report(
          error(
            DiagnosticCode.TRIGGER,
            `${base}/schedule/cron`,
            `cron "${s.cron}" never fires (no date matches it)`,
            {
              hint: 'its months lack its day of the month: April, June, September and November have 30 days, February 29',
            },
          ),
        );
      } else if (problem) {
        ok = false;
        ctx.report(
          error(
            DiagnosticCode.TRIGGER,
            `${base}/schedule/cron`,
            `invalid cron expression "${s.cron}": ${problem}`,
            {
              hint: 'minute hour day-of-month month day-of-week, optionally with seconds first: "0 2 * * *", "*/30 * * * * *"',
            },
          ),
        );
      }
    }
    out.schedule = {
      timezone,
      overlap: s.overlap ?? 'skip',
      catchUp: {
        policy: s.catchUp?.policy ?? 'none',
        windowMs:
          s.catchUp?.window === undefined ? DEFAULT_CATCH_UP_WINDOW_MS : parseDuration(s.catchUp.window),
        max: s.catchUp?.max ?? DEFAULT_CATCH_UP_MAX,
      },
    };
    if (s.cron !== undefined) out.schedule.cron = s.cron;
    if (s.every !== undefined) out.schedule.everyMs = parseDuration(s.every);
  }
  if (t.webhook) {
    out.webhook = {};
    const sig = t.webhook.signature;
    if (sig) {
      const env = Object.hasOwn(ctx.secretRefs, sig.secret) ? ctx.secretRefs[sig.secret] : undefined;
      if (env === undefined) {
        ok = false;
        const names = Object.keys(ctx.secretRefs);
        ctx.report(
          error(
            DiagnosticCode.TRIGGER,
            `${base}/webhook/signature/secret`,
            `${what} signs with secret "${sig.secret}", which is not in context.secretRefs`,
            {
              hint: names.length
                ? `secrets: ${listNames(names)}`
                : `add ${sig.secret}: { env: <VARIABLE> } to context.secretRefs (the operator grants the variable)`,
            },
          ),
        );
      } else {
        const scheme = sig.scheme ?? 'github';
        out.webhook.signature = {
          secret: sig.secret,
          env,
          scheme,
          header: sig.header ?? (scheme === 'stripe' ? STRIPE_SIGNATURE_HEADER : DEFAULT_SIGNATURE_HEADER),
          toleranceMs:
            sig.tolerance === undefined ? DEFAULT_SIGNATURE_TOLERANCE_MS : parseDuration(sig.tolerance),
        };
      }
    }
    if (t.webhook.dedupeHeader !== undefined) out.webhook.dedupeHeader = t.webhook.dedupeHeader;
  }
  if (t.event) {
    out.event = { name: t.event.name };
    if (t.event.condition !== undefined) {
      const at = `${base}/event/condition`;
      try {
        const expr: CompiledExpression = compileExpression(t.event.condition);
        // A condition decides on one firing: it never sees a batch.
        const one = { ...ctx, batched: false };
        for (const ref of expr.refs) checkRef(ref, at, `the condition of ${what}`, false, one);
        out.event.condition = expr;
      } catch (e) {
        if (!(e instanceof ExpressionError)) throw e;
        ok = false;
        ctx.report(error(e.diagnosticCode as typeof DiagnosticCode.EXPRESSION, at, e.message));
      }
    }
  }
  if (t.inputs !== undefined)
    out.inputs = compileAt(t.inputs, `${base}/inputs`, `the inputs of ${what}`, false, ctx);
  if (t.flow) out.flow = compileFlow(t.flow, `${base}/flow`, what, ctx);
  return ok ? out : undefined;
}

/** Checks and compiles `doc.triggers`, reporting every problem with its pointer. */
export function analyzeTriggers(
  doc: WorkflowDocument,
  report: (d: PendingDiagnostic) => void,
  secretRefs: Readonly<Record<string, string>>,
): CompiledTrigger[] {
  const triggers = doc.triggers ?? [];
  const ctx: Ctx = {
    report,
    variables: (doc.context?.variables ?? {}) as Record<string, unknown>,
    secretRefs,
  };
  const seen = new Map<string, number>();
  const out: CompiledTrigger[] = [];
  for (let i = 0; i < triggers.length; i++) {
    const t = triggers[i]!;
    const base = `/triggers/${i}`;
    const first = seen.get(t.name);
    if (first !== undefined)
      report(
        error(
          DiagnosticCode.TRIGGER,
          `${base}/name`,
          `duplicate trigger name "${t.name}" (first used at /triggers/${first})`,
        ),
      );
    else seen.set(t.name, i);
    const c = compileOne(t, base, ctx);
    if (c) out.push(c);
  }
  return out;
}

/** Checks and compiles `doc.policies.flow`: flow control of POST /workflows/execute. */
export function analyzeExecuteFlow(
  doc: WorkflowDocument,
  report: (d: PendingDiagnostic) => void,
): CompiledFlowControl | undefined {
  const flow = doc.policies?.flow;
  if (!flow) return undefined;
  const ctx: Ctx = {
    report,
    variables: (doc.context?.variables ?? {}) as Record<string, unknown>,
    secretRefs: {},
    noTrigger: true,
  };
  return compileFlow(flow, '/policies/flow', 'policies.flow', ctx);
}
