import type { Request } from 'express';
import { insertEvent, type EventType } from '../../common/src/db/events';
import type { Pool } from '../../common/src/db/pool';

/** Who made a request, as the events say it: the token's name and role, or that the API is open. */
function callerLabel(req: Request): string {
  return req.caller ? `${req.caller.name} (${req.caller.role})` : 'an open API caller';
}

/**
 * Records an operator's action as an event with who did it (docs/api.md, "Authentication"), in the log stream
 * beside what it caused: cancel, retry and bulk actions, scale and kill, queue controls and limits.
 */
export async function recordOperatorAction(pool: Pool, req: Request, action: string, type: EventType = 'operator'): Promise<void> {
  await insertEvent(pool, { type, message: `${action} by ${callerLabel(req)}` });
}
