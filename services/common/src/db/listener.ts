import pg from 'pg';
import type { DatabaseConfig } from '../config';
import type { Logger } from '../logger';
import { connectionSettings } from './pool';

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTENs on `channels` on a dedicated connection (a pooled one would be handed to other queries) and calls
 * `onNotify(channel, payload)` per notification. When the connection drops it reconnects with backoff and calls
 * `onNotify(channel)`, without a payload, for every channel once, since notifications sent meanwhile are lost.
 */
export function listen(
  config: DatabaseConfig,
  channels: readonly string[],
  onNotify: (channel: string, payload?: string) => void,
  logger: Logger,
): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async (attempt: number): Promise<void> => {
    if (closed) return;
    const candidate = new pg.Client({ ...connectionSettings(config), application_name: 'taskmaster-listener' });
    candidate.on('notification', (message) => onNotify(message.channel, message.payload));
    candidate.on('error', (err) => {
      logger.warn({ err: err.message }, 'notification connection lost; reconnecting');
      candidate.end().catch(() => undefined);
      if (client === candidate) client = undefined;
      scheduleReconnect(1);
    });
    try {
      await candidate.connect();
      for (const channel of channels) await candidate.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed) {
        await candidate.end();
        return;
      }
      client = candidate;
      if (attempt > 0) for (const channel of channels) onNotify(channel);
    } catch (err) {
      candidate.end().catch(() => undefined);
      if (attempt === 0 || attempt % 10 === 0) logger.warn({ err: (err as Error).message }, 'cannot LISTEN yet; retrying');
      scheduleReconnect(attempt + 1);
    }
  };

  const scheduleReconnect = (attempt: number): void => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect(attempt);
    }, Math.min(5000, 200 * attempt));
  };

  void connect(0);

  return {
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await client?.end().catch(() => undefined);
    },
  };
}
