import { act, render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { EventView } from '../../services/scheduler/src/api-types';
import { App } from '../src/app';
import { ToastProvider } from '../src/components/toasts';
import { LiveProvider } from '../src/live/live-context';
import { StatsProvider } from '../src/stats/stats-context';
import { FakeApi } from './fake-api';
import { fakeEventSources } from './fake-event-source';

/** The whole dashboard at `path`, against a FakeApi and a fake event stream, as main.tsx wires it. */
export function renderApp(path: string, api = new FakeApi()) {
  api.install();
  window.history.replaceState(null, '', path);
  const stream = fakeEventSources();
  const user = userEvent.setup();
  const view = render(
    <ToastProvider>
      <LiveProvider openEventSource={stream.open}>
        <StatsProvider>
          <App />
        </StatsProvider>
      </LiveProvider>
    </ToastProvider>,
  );
  /** Opens the stream if it is not open yet and delivers `events`, as the scheduler would. */
  const deliver = (...events: EventView[]) => act(() => {
    const source = stream.latest();
    if (source.readyState !== 1) source.open();
    source.emit(...events);
  });
  /** Replaces what an input holds, as a person selecting it all and typing would. */
  const retype = async (input: HTMLElement, value: string) => {
    await user.clear(input);
    await user.type(input, value);
  };
  return { ...view, api, stream, user, deliver, retype };
}
