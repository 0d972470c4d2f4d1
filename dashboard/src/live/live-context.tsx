import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { readApiToken } from '../api/client';
import { api } from '../api/endpoints';
import { connectEventStream, type OpenEventSource, type StreamTicket } from './event-connection';
import { LiveStore, type LiveSnapshot } from './live-store';

const LiveContext = createContext<LiveStore | null>(null);

const openBrowserEventSource: OpenEventSource = (url) => new EventSource(url);

/** With a token set, each stream opens with a fresh ticket; without one the API is open, or answers 401 and we retry. */
const browserStreamTicket: StreamTicket = () => (readApiToken() ? api.streamTicket().then((answer) => answer.ticket) : undefined);

/** One event stream for the whole dashboard, whichever views are open. */
export function LiveProvider({ children, openEventSource = openBrowserEventSource }: { children: ReactNode; openEventSource?: OpenEventSource }) {
  const [store] = useState(() => new LiveStore());
  useEffect(() => {
    const disconnect = connectEventStream(store, openEventSource, browserStreamTicket);
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
