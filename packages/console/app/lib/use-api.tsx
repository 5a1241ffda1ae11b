import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { Api } from './api.js';

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiContext.Provider>');
  return api;
}

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `path` (again when it changes, and on `reload`); `pollMs` refreshes it while shown.
 * One request at a time: the next poll is due `pollMs` after the last answer, and a reload
 * asked for while a request is out is made when it answers. So a server slower than the poll
 * (or than reloads) is asked less often, and its answers are shown, not discarded. A hidden
 * tab does not poll; it loads again when it is shown.
 */
export function useGet<T>(path: string | undefined, options: { pollMs?: number } = {}): Loaded<T> {
  const api = useApi();
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const load = useRef<(() => void) | undefined>(undefined);
  const pollMs = options.pollMs;
  useEffect(() => {
    if (path === undefined) return;
    let stopped = false;
    let inFlight = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Aborted when the page leaves (or the path changes): its lookups free their connections.
    const abort = new AbortController();
    const whenShown = () => {
      document.removeEventListener('visibilitychange', whenShown);
      if (!document.hidden) run();
      else document.addEventListener('visibilitychange', whenShown);
    };
    const settle = (update: Parameters<typeof setState>[0]) => {
      inFlight = false;
      if (stopped) return;
      setState(update);
      if (again) run();
      else if (pollMs) timer = setTimeout(() => (document.hidden ? whenShown() : run()), pollMs);
    };
    const run = () => {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      again = false;
      inFlight = true;
      clearTimeout(timer);
      setState((s) => ({ ...s, loading: true }));
      // A request that never answers fails after api.get's limit: the page goes on polling.
      api.get<T>(path, { signal: abort.signal }).then(
        (data) => settle({ data, loading: false }),
        (error: Error) => settle((s) => ({ ...s, error, loading: false })),
      );
    };
    load.current = run;
    run();
    return () => {
      stopped = true;
      abort.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', whenShown);
      load.current = undefined;
    };
  }, [api, path, pollMs]);
  const reload = useCallback(() => load.current?.(), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
