import { useEffect, useRef, useState } from 'react';
import { Poller, type PollerOptions } from './poller';

export interface Polled<T> {
  data?: T;
  /** The last load's error; cleared by the next success. Data from before the error is kept. */
  error?: unknown;
  loading: boolean;
  refresh: () => void;
  refreshSoon: () => void;
}

/** A Poller as a hook: restarts (and forgets its data) when `key` changes. */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, options: PollerOptions, key = ''): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown; loaded: boolean }>({ key, loaded: false });
  const poller = useRef<Poller<T> | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setState({ key, loaded: false });
    const next = new Poller<T>(
      (signal) => loadRef.current(signal),
      (result) => setState((prev) => ({ key, loaded: true, data: result.error === undefined ? result.data : prev.key === key ? prev.data : undefined, error: result.error })),
      options,
    );
    poller.current = next;
    next.start();
    return () => next.stop();
    // Options are constants of each caller: only `key` restarts the poller.
  }, [key]);

  const current = state.key === key ? state : { loaded: false, data: undefined, error: undefined };
  return {
    data: current.data,
    error: current.error,
    loading: !current.loaded,
    refresh: () => poller.current?.refresh(),
    refreshSoon: () => poller.current?.refreshSoon(),
  };
}
