import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { event } from './fake-api';
import { renderApp } from './render-app';

describe('live log', () => {
  it('shows events as they arrive, newest first, filtered by type and text', async () => {
    const { deliver, user } = renderApp('/logs');
    expect(await screen.findByText('Waiting for events')).toBeInTheDocument();
    deliver(
      event({ type: 'scheduled', message: 'task 11111111 demo-job scheduled' }),
      event({ type: 'worker_joined', message: 'worker worker-4 joined' }),
      event({ type: 'completed', message: 'task 11111111 demo-job completed' }),
    );
    const list = await screen.findByRole('list', { name: 'Events' });
    expect(within(list).getAllByRole('listitem').map((row) => row.textContent)).toEqual([
      expect.stringContaining('demo-job completed'),
      expect.stringContaining('worker-4 joined'),
      expect.stringContaining('demo-job scheduled'),
    ]);

    await user.click(screen.getByRole('checkbox', { name: 'worker joined' }));
    expect(screen.queryByText('worker worker-4 joined')).toBeNull();
    await user.type(screen.getByRole('searchbox', { name: /Filter events/ }), 'completed');
    expect(within(list).getAllByRole('listitem')).toHaveLength(1);
  });

  it('holds still while paused and counts what arrived meanwhile', async () => {
    const { deliver, user } = renderApp('/logs');
    deliver(event({ message: 'before pause' }));
    expect(await screen.findByText('before pause')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Pause' }));
    deliver(event({ message: 'during pause 1' }), event({ message: 'during pause 2' }));
    expect(await screen.findByText('2 new events while paused')).toBeInTheDocument();
    expect(screen.queryByText('during pause 1')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Resume' }));
    expect(screen.getByText('during pause 2')).toBeInTheDocument();
  });

  it('clears the view without closing the stream', async () => {
    const { deliver, user } = renderApp('/logs');
    deliver(event({ message: 'old news' }));
    expect(await screen.findByText('old news')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Clear' }));
    expect(screen.queryByText('old news')).toBeNull();
    deliver(event({ message: 'fresh news' }));
    expect(await screen.findByText('fresh news')).toBeInTheDocument();
  });
});
