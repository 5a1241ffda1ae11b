/** The correlation ids of executions triggers start: which trigger, and which fire or delivery. */

/** A time as ISO 8601 (UTC). */
export const iso = (t: number) => new Date(t).toISOString();

/** The correlation id of an execution a trigger started: `trigger:<name>@<ISO fire time>` or `trigger:<name>#<id>`. */
export function triggerCorrelationId(name: string, at: { time?: number; id?: string }): string {
  return at.id !== undefined ? `trigger:${name}#${at.id}` : `trigger:${name}@${iso(at.time ?? 0)}`;
}

/** What a correlation id says about the trigger that started an execution, if one did. */
export function parseTriggerCorrelationId(
  correlationId: string | undefined,
): { trigger: string; fireTime?: string; id?: string } | undefined {
  const m = /^trigger:([A-Za-z0-9_-]+)(?:@(.+)|#(.+))$/.exec(correlationId ?? '');
  if (!m) return undefined;
  return m[2] !== undefined ? { trigger: m[1]!, fireTime: m[2] } : { trigger: m[1]!, id: m[3]! };
}
