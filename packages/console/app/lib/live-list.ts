/**
 * Live refreshes for lists: follows `GET /events` (every execution's journal) and calls
 * `onChange` at most once per `throttleMs` when an execution starts or ends. Reconnects after
 * a drop, with the last event id so the server can say what was missed.
 */
import { parseSse } from '@orchestr8/client';

export function followAllEvents(options: {
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<Response>;
  onChange(): void;
  throttleMs?: number;
}): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const throttle = options.throttleMs ?? 1000;
  let last: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      if (!signal.aborted) options.onChange();
    }, throttle);
  };
  void (async () => {
    while (!signal.aborted) {
      try {
        const res = await options.open(last, signal);
        if (res.ok && res.body) {
          for await (const m of parseSse<{ type?: string }>(res.body)) {
            if (m.id !== undefined) last = m.id;
            if (m.event.startsWith('execution.') || m.event === 'gap') changed();
          }
        }
      } catch {
        // dropped: come back below
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => {
    controller.abort();
    if (timer !== undefined) clearTimeout(timer);
  };
}
