import { useCallback, useRef, useState } from 'react';

export interface Action<A extends unknown[], R> {
  /** Runs the action; resolves undefined when it failed (the error is in `error`). Ignored while busy. */
  run: (...args: A) => Promise<R | undefined>;
  busy: boolean;
  error: unknown;
  clearError: () => void;
}

/**
 * State for a button or form that calls the API: busy while running, the error when it failed. `onError`
 * suits buttons that report failures elsewhere (a toast); forms show `error` beside their fields.
 */
export function useAction<A extends unknown[], R>(perform: (...args: A) => Promise<R>, onError?: (error: unknown) => void): Action<A, R> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const running = useRef(false);
  const latest = useRef({ perform, onError });
  latest.current = { perform, onError };

  const run = useCallback(async (...args: A) => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(true);
    setError(undefined);
    try {
      return await latest.current.perform(...args);
    } catch (err) {
      setError(err);
      latest.current.onError?.(err);
      return undefined;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);

  return { run, busy, error, clearError: useCallback(() => setError(undefined), []) };
}
