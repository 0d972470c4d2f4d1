import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { BearerTokens, bearerToken, isLoopback, type TokenHolder } from '../../common/src/bearer-tokens';
import type { ApiRole, ApiTokenConfig } from '../../common/src/config';
import { ConfigError } from '../../common/src/errors';
import { OidcVerifier, type OidcOutcome } from './oidc';

/**
 * Who may call the scheduler's API (docs/api.md, "Authentication"). Every /api route and the original routes
 * need a bearer token once any is configured: a viewer's for reads and the event stream, an operator's for
 * everything else. Tokens are kept as SHA-256 digests and compared in constant time; with OIDC_ISSUER, JWTs
 * from that issuer are accepted too (oidc.ts). The event stream also takes a short-lived ticket in its URL,
 * since a browser's EventSource cannot send a header.
 */

/** The holder of the token a request came with. */
export type Caller = TokenHolder;

/** How long a stream ticket lets a stream be opened (an open stream stays open). */
const TICKET_TTL_MS = 60_000;

export class ApiAuth {
  private readonly tokens: BearerTokens;
  private readonly ticketKey: Buffer;

  /** `tokens` empty and no `oidc`: the API is open (a loopback address, or AUTH=none). */
  constructor(tokens: readonly ApiTokenConfig[], private readonly oidc?: OidcVerifier) {
    this.tokens = new BearerTokens(tokens);
    // Derived from the tokens, so every scheduler replica with the same tokens accepts the others' tickets,
    // and changing the tokens voids every ticket. With OIDC alone there is no shared secret to derive from:
    // a random key, so a ticket opens the stream on the replica that issued it.
    const digests = tokens.map((token) => `${token.role}:${token.name}:${token.sha256}`).sort();
    this.ticketKey = tokens.length === 0 && oidc
      ? randomBytes(32)
      : createHash('sha256').update(`taskmaster stream tickets\n${digests.join('\n')}`).digest();
  }

  get open(): boolean {
    return this.tokens.none && !this.oidc;
  }

  /** The caller an Authorization header names, or undefined; every configured token is compared, in constant time. */
  callerOf(authorization: string | undefined): Caller | undefined {
    return this.tokens.holderOf(authorization);
  }

  /**
   * The caller of a bearer token that is no configured token but a JWT, checked against the OIDC issuer;
   * undefined without OIDC or for anything else.
   */
  async oidcCallerOf(authorization: string | undefined): Promise<OidcOutcome | undefined> {
    const token = bearerToken(authorization);
    if (!this.oidc || token === undefined || !OidcVerifier.looksLikeJwt(token)) return undefined;
    return this.oidc.verify(token);
  }

  /** A ticket that opens the event stream as `caller` for the next minute. */
  ticketFor(caller: Caller, nowMs = Date.now()): { ticket: string; expires_at: string } {
    const expires = nowMs + TICKET_TTL_MS;
    const body = Buffer.from(JSON.stringify({ r: caller.role, n: caller.name, e: expires })).toString('base64url');
    return { ticket: `${body}.${this.sign(body)}`, expires_at: new Date(expires).toISOString() };
  }

  /** The caller a ticket was issued to, or undefined when it is forged, altered or expired. */
  callerOfTicket(ticket: string, nowMs = Date.now()): Caller | undefined {
    const [body, signature, extra] = ticket.split('.');
    if (!body || !signature || extra !== undefined) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const { r, n, e } = JSON.parse(Buffer.from(body, 'base64url').toString()) as { r: ApiRole; n: string; e: number };
      return e > nowMs ? { role: r, name: n } : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.ticketKey).update(body).digest('base64url');
  }
}

/** The access of an app given one operator token (API_TOKEN), or none: what tests and embedders pass. */
export function apiAuthFromToken(token: string | undefined): ApiAuth {
  return new ApiAuth(token === undefined ? [] : [{ role: 'operator', name: 'api-token', sha256: createHash('sha256').update(token).digest('hex') }]);
}

/**
 * The API's access for a scheduler bound to `bindHost`: tokens when configured; open on loopback; open on
 * another address only with AUTH=none, which the caller logs at warn at every start. Anything else refuses
 * to start: an API anyone on the network can use to cancel, retry and scale must be asked for explicitly.
 */
export function resolveApiAccess(options: {
  tokens: readonly ApiTokenConfig[]; auth: 'token' | 'none'; bindHost: string; oidc?: OidcVerifier;
}): { auth: ApiAuth; warning?: string } {
  const { tokens, auth, bindHost, oidc } = options;
  if (auth === 'none') {
    return {
      auth: new ApiAuth([]),
      warning: `AUTH=none: the API on ${bindHost} is open to anyone who can reach it (reads, cancel, retry, scale, kill)${tokens.length > 0 ? '; the configured tokens are ignored' : ''}`,
    };
  }
  if (tokens.length === 0 && !oidc && !isLoopback(bindHost)) {
    throw new ConfigError([
      `BIND_HOST=${bindHost} is not a loopback address and no API token is configured: set API_TOKEN or API_TOKENS `
      + '(role:name:token, role viewer or operator), bind to 127.0.0.1, or set AUTH=none to serve the API open on purpose',
    ]);
  }
  return { auth: new ApiAuth(tokens, oidc) };
}

/** Routes that stay open whatever the tokens: probes. Everything under /api and the original routes needs a token. */
const NEEDS_TOKEN = /^\/(api(\/|$)|schedule(\/|$)|status(\/|$))/;
/** With METRICS_AUTH=token, /metrics too: a viewer's token (Prometheus's bearer token) reads it. */
const NEEDS_TOKEN_WITH_METRICS = /^\/(api(\/|$)|schedule(\/|$)|status(\/|$)|metrics$)/;

/**
 * Authenticates every API request: 401 without a valid token (or stream ticket, on the event stream), 403 for
 * a viewer's token on anything but a read. The dashboard's files and the probes stay open; so does /metrics,
 * served on this port too, unless `protectMetrics` (METRICS_AUTH=token).
 */
export function authenticate(auth: ApiAuth, options: { protectMetrics?: boolean } = {}): RequestHandler {
  const needsToken = options.protectMetrics ? NEEDS_TOKEN_WITH_METRICS : NEEDS_TOKEN;
  return (req, res, next) => {
    if (auth.open || !needsToken.test(req.path)) return next();
    const admit = (caller: Caller): void => {
      // A stream ticket is what a reader asks for to open the stream: a read, though a POST.
      const read = req.method === 'GET' || req.method === 'HEAD' || req.path === '/api/logs/ticket';
      if (!read && caller.role !== 'operator') {
        res.status(403).json({ error: { code: 'forbidden', message: `the token of ${caller.name} is a viewer's: changes need an operator token` } });
        return;
      }
      req.caller = caller;
      req.log = req.log.child({ caller: caller.name });
      next();
    };
    const authorization = req.get('authorization');
    const ticket = req.path === '/api/logs/stream' && typeof req.query.ticket === 'string' ? req.query.ticket : undefined;
    const known = auth.callerOf(authorization) ?? (ticket === undefined ? undefined : auth.callerOfTicket(ticket));
    if (known) return admit(known);
    auth.oidcCallerOf(authorization).then((outcome) => {
      if (outcome && 'caller' in outcome) return admit(outcome.caller);
      if (outcome?.refused === 'forbidden') {
        res.status(403).json({ error: { code: 'forbidden', message: outcome.message } });
        return;
      }
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: {
        code: 'unauthorized',
        message: outcome?.message ?? (ticket === undefined
          ? 'this API needs "Authorization: Bearer <token>" (a viewer token for reads, an operator token for changes)'
          : 'the stream ticket is not valid or has expired: ask POST /api/logs/ticket for another'),
      } });
    }, next);
  };
}
