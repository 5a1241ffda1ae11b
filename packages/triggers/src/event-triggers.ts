/** Event triggers: the active triggers an emitted event fires (its name, not paused, the condition true). */
import { randomUUID } from 'node:crypto';
import type { Outcome, TriggerContext } from './flow-control.js';
import type { EmittedEvent } from './scheduler-api.js';
import type { SchedulerContext } from './scheduler-context.js';
import { iso } from './trigger-correlation.js';
import { scopeOf } from './trigger-runs.js';

export async function emitEvent(
  sc: SchedulerContext,
  event: EmittedEvent,
): Promise<{ workflowId: string; trigger: string; outcome: Outcome }[]> {
  const { clock, active, pausedKeys } = sc;
  const now = clock.now();
  const id = event.id ?? randomUUID();
  const out: { workflowId: string; trigger: string; outcome: Outcome }[] = [];
  for (const a of active.values()) {
    const e = a.trigger.event;
    if (!e || e.name !== event.name || pausedKeys.has(a.key)) continue;
    const ctx: TriggerContext = {
      name: a.trigger.name,
      kind: 'event',
      time: iso(now),
      timestamp: now,
      event: { name: event.name, id, data: event.data ?? {} },
    };
    if (e.condition) {
      let ok: unknown;
      try {
        ok = e.condition.evaluate(scopeOf(a, ctx));
      } catch {
        ok = false;
      }
      if (ok !== true) continue;
    }
    out.push({ workflowId: a.workflow.id, trigger: a.trigger.name, outcome: await a.flow.submit(ctx) });
  }
  return out;
}
