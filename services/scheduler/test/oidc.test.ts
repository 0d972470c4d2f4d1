import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import { loadConfig, type OidcConfig } from '../../common/src/config';
import { ConfigError } from '../../common/src/errors';
import { createLogger } from '../../common/src/logger';
import { ApiAuth, resolveApiAccess } from '../src/auth';
import { OidcVerifier } from '../src/oidc';
import { request, startSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';

/*
 * JWTs from an OpenID Connect issuer (issue 13, docs/api.md "Authentication"): a real HTTP issuer in this
 * process serving its discovery document and key set, tokens signed with jose, and the scheduler's app
 * deciding who may do what from the token's role claim.
 */

type KeyPair = Awaited<ReturnType<typeof Jose.generateKeyPair>>;

/** jose is ESM-only and this file CommonJS: loaded with import(), as the verifier does. */
let jose: typeof Jose;

let issuer: { url: string; server: Server; keys: KeyPair; up: boolean };
let stranger: KeyPair;
let db: TestDatabase;
let app: SchedulerUnderTest;
let config: OidcConfig;

async function startIssuer(): Promise<typeof issuer> {
  const keys = await jose.generateKeyPair('ES256');
  const jwk = { ...(await jose.exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const state = { url: '', server: createServer(), keys, up: true };
  state.server.on('request', (req, res) => {
    if (!state.up) return void res.writeHead(503).end();
    if (req.url === '/realms/tm/.well-known/openid-configuration') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: `${state.url}/realms/tm`, jwks_uri: `${state.url}/realms/tm/keys` }));
    }
    if (req.url === '/realms/tm/keys') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

function token(claims: JWTPayload, options: { key?: KeyPair; expiresIn?: string; issuer?: string; audience?: string; kid?: string } = {}): Promise<string> {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'k1' })
    .setIssuer(options.issuer ?? config.issuer)
    .setAudience(options.audience ?? config.audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign((options.key ?? issuer.keys).privateKey);
}

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
const body = { command: 'oidc-made', scheduled_at: '2031-01-01T00:00:00Z' };

beforeAll(async () => {
  jose = await import('jose');
  issuer = await startIssuer();
  stranger = await jose.generateKeyPair('ES256');
  config = loadConfig({ OIDC_ISSUER: `${issuer.url}/realms/tm`, OIDC_AUDIENCE: 'taskmaster', OIDC_ROLES_CLAIM: 'realm_access.roles' }).scheduler.oidc!;
  db = await createTestDatabase();
  app = await startSchedulerApp(db, { auth: new ApiAuth([], new OidcVerifier(config, createLogger('test', 'silent'))) });
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
  issuer?.server.close();
});

test('the role comes from the claim: an operator changes, a viewer reads, a token without either role is 403', async () => {
  const operator = await token({ preferred_username: 'alice', realm_access: { roles: ['offline_access', 'taskmaster-operator'] } });
  const made = await request(`${app.url}/api/schedule`, { body, headers: bearer(operator) });
  expect(made.status).toBe(201);
  await request(`${app.url}/api/tasks/${made.body.task_id}/cancel`, { method: 'POST', headers: bearer(operator) });
  const { rows } = await db.pool.query("SELECT message FROM events WHERE type = 'operator' ORDER BY id DESC LIMIT 1");
  expect(rows[0].message).toBe(`task ${made.body.task_id} cancelled by alice (operator)`);

  const viewer = await token({ sub: 'grafana-sa', realm_access: { roles: ['taskmaster-viewer'] } });
  expect((await request(`${app.url}/api/stats`, { headers: bearer(viewer) })).status).toBe(200);
  const refused = await request(`${app.url}/api/schedule`, { body, headers: bearer(viewer) });
  expect(refused.status).toBe(403);
  expect(refused.body.error.message).toContain('grafana-sa');

  const nobody = await token({ preferred_username: 'bob', realm_access: { roles: ['offline_access'] } });
  const none = await request(`${app.url}/api/stats`, { headers: bearer(nobody) });
  expect(none.status).toBe(403);
  expect(none.body.error.message).toBe('the token of bob grants no TaskMaster role: claim realm_access.roles must hold one of taskmaster-operator, taskmaster-viewer');
});

test('expired, foreign, wrongly addressed or unsigned tokens are 401 and change nothing', async () => {
  const roles = { realm_access: { roles: ['taskmaster-operator'] } };
  const expired = await token(roles, { expiresIn: '-2m' });
  const cases: Array<[string, string, RegExp]> = [
    ['expired', expired, /^the token has expired$/],
    ['another key', await token(roles, { key: stranger }), /^the token is not valid/],
    ['another issuer', await token(roles, { issuer: 'https://evil.example/realms/tm' }), /^the token is not valid/],
    ['another audience', await token(roles, { audience: 'someone-else' }), /^the token is not valid/],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...roles, iss: config.issuer, aud: 'taskmaster' })).toString('base64url')}.`, /^the token is not valid/],
    ['not a JWT', 'just-some-string', /^this API needs "Authorization: Bearer <token>"/],
  ];
  const before = (await db.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n;
  for (const [what, value, message] of cases) {
    const response = await request(`${app.url}/api/schedule`, { body, headers: bearer(value) });
    expect({ what, status: response.status }).toEqual({ what, status: 401 });
    expect({ what, message: response.body.error.message }).toEqual({ what, message: expect.stringMatching(message) });
  }
  expect((await db.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n).toBe(before);
});

test('while the issuer cannot be reached tokens are refused, and accepted again once it is back', async () => {
  const fresh = await startSchedulerApp(db, { auth: new ApiAuth([], new OidcVerifier(config, createLogger('test', 'silent'))) });
  try {
    const viewer = await token({ realm_access: { roles: ['taskmaster-viewer'] } });
    issuer.up = false;
    const down = await request(`${fresh.url}/api/stats`, { headers: bearer(viewer) });
    expect(down.status).toBe(401);
    expect(down.body.error.message).toBe('the token cannot be checked now: the issuer\'s keys cannot be fetched');
    issuer.up = true;
    expect((await request(`${fresh.url}/api/stats`, { headers: bearer(viewer) })).status).toBe(200);
  } finally {
    issuer.up = true;
    await fresh.stop();
  }
});

test('configuration: issuer and audience go together, and OIDC alone lets the scheduler serve off loopback', () => {
  expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example.com/realms/tm' })).toThrow(ConfigError);
  expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example.com/realms/tm' })).toThrow(/OIDC_ISSUER and OIDC_AUDIENCE go together/);
  expect(loadConfig({ OIDC_ISSUER: 'https://id.example.com', OIDC_AUDIENCE: 'tm' }).scheduler.oidc).toEqual({
    issuer: 'https://id.example.com', audience: 'tm', rolesClaim: 'roles', viewerRoles: ['taskmaster-viewer'], operatorRoles: ['taskmaster-operator'], nameClaim: 'preferred_username',
  });
  const verifier = new OidcVerifier(config, createLogger('test', 'silent'));
  expect(resolveApiAccess({ tokens: [], auth: 'token', bindHost: '0.0.0.0', oidc: verifier }).auth.open).toBe(false);
  expect(() => resolveApiAccess({ tokens: [], auth: 'token', bindHost: '0.0.0.0' })).toThrow(ConfigError);
});
