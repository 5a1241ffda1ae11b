import { createContext, useCallback, useContext, useEffect, useState } from 'react';
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

/** Loads `path` (again when it changes, and on `reload`); `pollMs` refreshes it while shown. */
export function useGet<T>(path: string | undefined, options: { pollMs?: number } = {}): Loaded<T> {
  const api = useApi();
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is how reload() asks for it again
  useEffect(() => {
    if (path === undefined) return;
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    api.get<T>(path).then(
      (data) => !cancelled && setState({ data, loading: false }),
      (error: Error) => !cancelled && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      cancelled = true;
    };
  }, [api, path, tick]);
  useEffect(() => {
    if (!options.pollMs) return;
    const t = setInterval(() => setTick((n) => n + 1), options.pollMs);
    return () => clearInterval(t);
  }, [options.pollMs]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
