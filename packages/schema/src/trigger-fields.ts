import type { PathSegment } from './path.js';
import { closest } from './suggest.js';

/**
 * What `${trigger.*}` holds, per kind of trigger: the context packages/triggers builds for a
 * firing (flow-control.ts `TriggerContext`; webhook-request.ts, schedule-firing.ts and
 * event-triggers.ts fill it). A read of any other field has no value at run time, so it is
 * reported when the document is loaded.
 */

export type TriggerKind = 'schedule' | 'webhook' | 'event';

const COMMON = ['name', 'kind', 'time', 'timestamp'] as const;
const OF_KIND: Readonly<Record<TriggerKind, readonly string[]>> = {
  schedule: COMMON,
  webhook: [...COMMON, 'body', 'headers', 'query', 'deliveryId'],
  event: [...COMMON, 'event'],
};
const EVENT_FIELDS: readonly string[] = ['name', 'id', 'data'];

/**
 * The fields a trigger of `kind` carries; `batch` (the batched firings) only when it batches
 * (`flow.batch`) and the reader renders a batch (inputs and keys, not an event's condition).
 */
export function triggerFields(kind: TriggerKind, batched: boolean): readonly string[] {
  return batched ? [...OF_KIND[kind], 'batch'] : OF_KIND[kind];
}

/**
 * Why `trigger<path>` has no value for a trigger of `kind`, or undefined when it may have one:
 * `what the read is, which <owner> does not have (it has <fields>)`, and a "did you mean".
 */
export function unknownTriggerField(
  path: readonly PathSegment[],
  kind: TriggerKind,
  batched: boolean,
): { message: string; hint?: string } | undefined {
  if (path.length === 0) return undefined;
  const [first, second] = path;
  const fields = triggerFields(kind, batched);
  if (typeof first !== 'string' || !fields.includes(first)) {
    const read = typeof first === 'string' ? `trigger.${first}` : `trigger[${first}]`;
    const guess = typeof first === 'string' ? closest(first, fields) : undefined;
    const hint = guess
      ? `did you mean trigger.${guess}?`
      : first === 'batch'
        ? 'trigger.batch exists only with flow.batch, and not in a condition'
        : undefined;
    return {
      message: `${read}, which a${kind === 'event' ? 'n' : ''} ${kind} trigger does not have (it has ${fields.join(', ')})`,
      ...(hint ? { hint } : {}),
    };
  }
  if (first === 'event' && second !== undefined) {
    if (typeof second === 'string' && EVENT_FIELDS.includes(second)) return undefined;
    const guess = typeof second === 'string' ? closest(second, EVENT_FIELDS) : undefined;
    return {
      message: `trigger.event${typeof second === 'string' ? `.${second}` : `[${second}]`}, which trigger.event does not have (it has ${EVENT_FIELDS.join(', ')})`,
      hint: guess ? `did you mean trigger.event.${guess}?` : 'the event payload is trigger.event.data',
    };
  }
  return undefined;
}
