import { Router } from 'express';
import type { Pool } from '../../../common/src/db/pool';
import type { ApiAuth } from '../auth';
import { readEventsAfter, readRecentEvents } from '../db/events';
import type { EventFeed } from '../events/event-feed';
import { streamEvents, type SseOptions } from '../events/sse';
import { eventView } from '../views';
import { parseEventId } from '../validation';

export const LOG_BUFFER_SIZE = 250;

/**
 * GET /api/logs (the newest 250 events, or those after ?after=), GET /api/logs/stream (SSE), and POST
 * /api/logs/ticket: a ticket that opens the stream for a minute (?ticket=), for browsers, whose EventSource
 * cannot send the Authorization header.
 */
export function logRoutes(pool: Pool, feed: EventFeed, auth: ApiAuth, sse: SseOptions): Router {
  const router = Router();
  router.post('/logs/ticket', (req, res) => {
    // An open API needs no ticket; one is made anyway so that a client need not know which it talks to.
    res.json(auth.ticketFor(req.caller ?? { role: 'operator', name: 'anonymous' }));
  });
  router.get('/logs', async (req, res) => {
    const after = req.query.after === undefined ? undefined : parseEventId(req.query.after, 'after');
    const rows = after === undefined
      ? await readRecentEvents(pool, LOG_BUFFER_SIZE)
      : await readEventsAfter(pool, after, LOG_BUFFER_SIZE);
    res.json({ events: rows.map(eventView) });
  });
  router.get('/logs/stream', streamEvents(feed, sse));
  return router;
}
