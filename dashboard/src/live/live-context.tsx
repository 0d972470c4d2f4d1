import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { connectEventStream, type OpenEventSource } from './event-connection';
import { LiveStore, type LiveSnapshot } from './live-store';

const LiveContext = createContext<LiveStore | null>(null);

const openBrowserEventSource: OpenEventSource = (url) => new EventSource(url);

/** One event stream for the whole dashboard, whichever views are open. */
export function LiveProvider({ children, openEventSource = openBrowserEventSource }: { children: ReactNode; openEventSource?: OpenEventSource }) {
  const [store] = useState(() => new LiveStore());
  useEffect(() => {
    const disconnect = connectEventStream(store, openEventSource);
    return () => {
      disconnect();
      store.close();
    };
  }, [store, openEventSource]);
  return <LiveContext.Provider value={store}>{children}</LiveContext.Provider>;
}

export function useLiveStore(): LiveStore {
  const store = useContext(LiveContext);
  if (!store) throw new Error('useLiveStore must be used inside <LiveProvider>');
  return store;
}

export function useLive(): LiveSnapshot {
  const store = useLiveStore();
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
