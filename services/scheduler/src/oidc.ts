import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import type { ApiRole, OidcConfig } from '../../common/src/config';
import type { Logger } from '../../common/src/logger';

/** Who a verified token names, or why it was refused (for the 401's or 403's message). */
export type OidcOutcome =
  | { caller: { role: ApiRole; name: string } }
  | { refused: 'unauthorized' | 'forbidden'; message: string };

type KeySet = ReturnType<typeof Jose.createRemoteJWKSet>;

/** jose is ESM-only and this code is CommonJS: loaded with import(), as kube-client.ts loads client-node. */
let jose: Promise<typeof Jose> | undefined;
const loadJose = () => (jose ??= import('jose'));

/** Three base64url segments: the only shape of bearer token sent to the issuer's keys. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * Bearer tokens that are JWTs from an OpenID Connect issuer (docs/api.md, "Authentication"): signed by one of
 * the issuer's keys (found through its discovery document, fetched again by jose when an unknown key id
 * appears), for OIDC_AUDIENCE, unexpired; the role comes from a claim (OIDC_ROLES_CLAIM, a dot path such as
 * realm_access.roles) holding one of OIDC_OPERATOR_ROLES or OIDC_VIEWER_ROLES.
 */
export class OidcVerifier {
  private keys: Promise<KeySet> | undefined;

  constructor(private readonly config: OidcConfig, private readonly logger: Logger) {}

  static looksLikeJwt(token: string): boolean {
    return JWT_SHAPE.test(token);
  }

  async verify(token: string): Promise<OidcOutcome> {
    const { errors, jwtVerify } = await loadJose();
    let payload: Jose.JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.keySet(), {
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: 30,
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { refused: 'unauthorized', message: 'the token has expired' };
      if (err instanceof errors.JOSEError) return { refused: 'unauthorized', message: `the token is not valid: ${err.message}` };
      // The issuer could not be asked for its keys: not the caller's fault, but nothing to let in either.
      this.logger.warn({ err, issuer: this.config.issuer }, 'cannot fetch the OIDC issuer\'s keys');
      return { refused: 'unauthorized', message: 'the token cannot be checked now: the issuer\'s keys cannot be fetched' };
    }
    const name = String(payload[this.config.nameClaim] ?? payload.sub ?? 'unknown');
    const held = claimValues(payload, this.config.rolesClaim);
    if (held.some((value) => this.config.operatorRoles.includes(value))) return { caller: { role: 'operator', name } };
    if (held.some((value) => this.config.viewerRoles.includes(value))) return { caller: { role: 'viewer', name } };
    return {
      refused: 'forbidden',
      message: `the token of ${name} grants no TaskMaster role: claim ${this.config.rolesClaim} must hold one of `
        + [...this.config.operatorRoles, ...this.config.viewerRoles].join(', '),
    };
  }

  /** The issuer's key set, from its discovery document; a failed discovery is tried again on the next token. */
  private keySet(): Promise<KeySet> {
    this.keys ??= this.discover().catch((err: unknown) => {
      this.keys = undefined;
      throw err;
    });
    return this.keys;
  }

  private async discover(): Promise<KeySet> {
    const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const document = await response.json() as { issuer?: unknown; jwks_uri?: unknown };
    // The discovery document must be the configured issuer's own (OpenID Connect Discovery §4.3).
    if (document.issuer !== this.config.issuer) throw new Error(`${url} names issuer ${String(document.issuer)}, not ${this.config.issuer}`);
    if (typeof document.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
    return (await loadJose()).createRemoteJWKSet(new URL(document.jwks_uri), { timeoutDuration: 5000 });
  }
}

/** The strings at a dot path of the claims: a string, or the strings of an array; none otherwise. */
function claimValues(payload: Jose.JWTPayload, path: string): string[] {
  let value: unknown = payload;
  for (const key of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  if (typeof value === 'string') return value.split(' ');
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
