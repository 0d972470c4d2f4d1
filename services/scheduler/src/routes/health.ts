import { Router } from 'express';
import type { Pool } from '../../../common/src/db/pool';

/** /healthz: the process serves HTTP. /readyz: it can also reach the database, so it can take traffic. */
export function healthRoutes(pool: Pool): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    try {
      await pool.query('SELECT 1');
      res.json({ status: 'ready' });
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'not ready: database unreachable');
      res.status(503).json({ status: 'unavailable', error: { code: 'unavailable', message: 'database unreachable' } });
    }
  });
  return router;
}
