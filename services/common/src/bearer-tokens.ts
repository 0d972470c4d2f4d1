import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiRole, ApiTokenConfig } from './config';

/** The holder of a token a request came with. */
export interface TokenHolder {
  role: ApiRole;
  name: string;
}

/**
 * The bearer tokens a service accepts (API_TOKENS, API_TOKEN): the scheduler's API and the coordinator's
 * SubmitTask and ListWorkers. Kept as SHA-256 digests; a presented token is compared with every one in
 * constant time, so neither the match nor its position shows in the timing.
 */
export class BearerTokens {
  private readonly tokens: ReadonlyArray<{ role: ApiRole; name: string; digest: Buffer }>;

  constructor(tokens: readonly ApiTokenConfig[]) {
    this.tokens = tokens.map(({ role, name, sha256 }) => ({ role, name, digest: Buffer.from(sha256, 'hex') }));
  }

  /** No token is configured. */
  get none(): boolean {
    return this.tokens.length === 0;
  }

  /** The holder of the token an Authorization value ("Bearer <token>") carries, or undefined. */
  holderOf(authorization: string | undefined): TokenHolder | undefined {
    const token = bearerToken(authorization);
    if (token === undefined) return undefined;
    const digest = createHash('sha256').update(token).digest();
    let found: TokenHolder | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(digest, token.digest) && !found) found = { role: token.role, name: token.name };
    }
    return found;
  }
}

/** The token of an Authorization value "Bearer <token>", or undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
}

/** Whether a BIND_HOST value listens on the loopback interface only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
