/** What the Schedules page's filter looks at in a trigger. */
export interface FilterableTrigger {
  workflowId: string;
  name: string;
  kind: string;
  schedule?: { cron?: string };
  event?: string;
}

/** Whether `t` matches the filter text: its workflow, name, kind, cron or event name holds it, any case. */
export function matchesTrigger(t: FilterableTrigger, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (q === '') return true;
  return [t.workflowId, t.name, t.kind, t.schedule?.cron ?? '', t.event ?? ''].some((f) =>
    f.toLowerCase().includes(q),
  );
}
