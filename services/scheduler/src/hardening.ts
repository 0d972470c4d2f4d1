import type { RequestHandler } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import helmet from 'helmet';
import { isLoopback } from '../../common/src/bearer-tokens';

/*
 * What a browser-facing HTTP server owes its users beyond authentication (docs/api.md, "Hardening"): security
 * headers, a Host allowlist against DNS rebinding, and a per-client limit on changes.
 */

/**
 * helmet's headers, with a Content-Security-Policy that allows only this origin (the dashboard loads nothing
 * else) and no framing. Requests are not upgraded to https: the scheduler often runs on plain http on a laptop.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"], upgradeInsecureRequests: null },
    },
    strictTransportSecurity: false,
  });
}

/** The hosts answered when ALLOWED_HOSTS is not set: a loopback-bound scheduler answers only to localhost names. */
export function defaultAllowedHosts(bindHost: string): readonly string[] | undefined {
  return isLoopback(bindHost) ? ['localhost', '127.0.0.1', '[::1]', '::1'] : undefined;
}

/**
 * Refuses a request whose Host is not allowed (421), whatever its port: a web page that rebinds its own name to
 * 127.0.0.1 would otherwise reach an open local API from the browser. `undefined` or "*" allows any.
 */
export function allowHosts(hosts: readonly string[] | undefined): RequestHandler {
  const allowed = hosts === undefined || hosts.includes('*') ? undefined : new Set(hosts);
  return (req, res, next) => {
    if (!allowed) return next();
    const host = (req.get('host') ?? '').toLowerCase().replace(/:\d+$/, '');
    if (allowed.has(host)) return next();
    res.status(421).json({ error: {
      code: 'misdirected_request',
      message: `this scheduler does not answer to the host "${host.slice(0, 100)}"; ALLOWED_HOSTS lists those it does`,
    } });
  };
}

/**
 * At most `perMinute` changes (anything but GET and HEAD) a minute per client: the caller's token, else its
 * address (with TRUST_PROXY, the one a proxy forwarded). 429 with Retry-After beyond; 0 turns it off.
 */
export function limitChanges(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) => req.method === 'GET' || req.method === 'HEAD',
    keyGenerator: (req) => (req.caller ? `caller:${req.caller.name}` : ipKeyGenerator(req.ip ?? '')),
    handler: (_req, res, _next, options) => {
      res.status(options.statusCode).json({ error: {
        code: 'rate_limited', message: `more than ${perMinute} changes a minute from this client (HTTP_RATE_LIMIT); retry after the Retry-After seconds`,
      } });
    },
  });
}
