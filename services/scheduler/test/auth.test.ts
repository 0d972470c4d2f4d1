import { createHash } from 'node:crypto';
import { loadConfig } from '../../common/src/config';
import { isLoopback } from '../../common/src/bearer-tokens';
import { ApiAuth, resolveApiAccess } from '../src/auth';
import { startService } from '../../../test/helpers/processes';
import { configProblems } from '../../../test/helpers/config-problems';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');

describe('API tokens from the environment', () => {
  test('API_TOKENS takes role:name:token and role:name:sha256:<hex>; API_TOKEN is an operator token', () => {
    const digest = sha('a-viewer-token-0123');
    const { scheduler } = loadConfig({ API_TOKEN: 'legacy', API_TOKENS: `viewer:grafana:sha256:${digest}, operator:alice:an-operator-token-01` });
    expect(scheduler.apiTokens.map(({ role, name, sha256 }) => ({ role, name, hex: sha256 }))).toEqual([
      { role: 'operator', name: 'api-token', hex: sha('legacy') },
      { role: 'viewer', name: 'grafana', hex: digest },
      { role: 'operator', name: 'alice', hex: sha('an-operator-token-01') },
    ]);
    expect(scheduler.auth).toBe('token');
  });

  test('a bad entry is a configuration problem naming it, and no token is kept in the message', () => {
    expect(configProblems({ API_TOKENS: 'admin:bob:a-long-enough-token' })).toEqual([expect.stringMatching(/^API_TOKENS entry 1 must be role:name:token with role viewer or operator/)]);
    expect(configProblems({ API_TOKENS: 'viewer:bob:short' })).toEqual([expect.stringMatching(/entry 1: the token must be at least 16 characters/)]);
    expect(configProblems({ API_TOKENS: 'viewer:bad name:a-long-enough-token' })).toEqual([expect.stringMatching(/entry 1: the name must be/)]);
    expect(configProblems({ API_TOKENS: 'viewer:ok:sha256:abc' })).toEqual([expect.stringMatching(/entry 1: sha256: must be followed by 64/)]);
    expect(configProblems({ AUTH: 'off' })).toEqual(['AUTH="off" must be one of token, none']);
    expect(configProblems({ API_TOKENS: 'viewer:bob:short-secret-x' }).join(' ')).not.toContain('short-secret-x');
  });
});

describe('ApiAuth', () => {
  const auth = new ApiAuth([{ role: 'viewer', name: 'grafana', sha256: sha('viewer-token-0123456789') }]);

  test('a bearer token maps to its holder; anything else to nobody', () => {
    expect(auth.callerOf('Bearer viewer-token-0123456789')).toEqual({ role: 'viewer', name: 'grafana' });
    for (const header of [undefined, '', 'Bearer', 'Bearer other', 'Basic dmlld2VyLXRva2Vu', 'bearer viewer-token-0123456789']) {
      expect(auth.callerOf(header)).toBeUndefined();
    }
  });

  test('a ticket opens the stream for a minute as its holder, and only with the same tokens', () => {
    const now = Date.parse('2026-12-03T10:00:00Z');
    const { ticket, expires_at } = auth.ticketFor({ role: 'viewer', name: 'grafana' }, now);
    expect(expires_at).toBe('2026-12-03T10:01:00.000Z');
    expect(auth.callerOfTicket(ticket, now + 59_000)).toEqual({ role: 'viewer', name: 'grafana' });
    expect(auth.callerOfTicket(ticket, now + 60_000)).toBeUndefined();
    // Another replica with the same tokens accepts it; one with other tokens does not.
    expect(new ApiAuth([{ role: 'viewer', name: 'grafana', sha256: sha('viewer-token-0123456789') }]).callerOfTicket(ticket, now)).toBeDefined();
    expect(new ApiAuth([{ role: 'viewer', name: 'grafana', sha256: sha('another-token-0123456') }]).callerOfTicket(ticket, now)).toBeUndefined();
    const [body, signature] = ticket.split('.');
    const forged = Buffer.from(JSON.stringify({ r: 'operator', n: 'grafana', e: now + 60_000 })).toString('base64url');
    expect(auth.callerOfTicket(`${forged}.${signature}`, now)).toBeUndefined();
    expect(auth.callerOfTicket(`${body}.${signature}.x`, now)).toBeUndefined();
  });
});

describe('where the API may be open', () => {
  test('open on loopback without tokens; elsewhere only with AUTH=none, which warns', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.7', '::', 'scheduler'].some(isLoopback)).toBe(false);
    expect(resolveApiAccess({ tokens: [], auth: 'token', bindHost: '127.0.0.1' })).toEqual({ auth: expect.objectContaining({ open: true }) });
    expect(() => resolveApiAccess({ tokens: [], auth: 'token', bindHost: '0.0.0.0' })).toThrow(/BIND_HOST=0\.0\.0\.0 is not a loopback address and no API token is configured/);
    const open = resolveApiAccess({ tokens: [], auth: 'none', bindHost: '0.0.0.0' });
    expect(open.auth.open).toBe(true);
    expect(open.warning).toMatch(/^AUTH=none: the API on 0\.0\.0\.0 is open to anyone who can reach it/);
    expect(resolveApiAccess({ tokens: [{ role: 'operator', name: 'a', sha256: sha('x') }], auth: 'token', bindHost: '0.0.0.0' }).auth.open).toBe(false);
  });

  test('a scheduler bound to every interface without a token refuses to start, saying why', async () => {
    // It stops before binding anything: no socket is opened on a non-loopback address.
    const scheduler = startService('scheduler', { BIND_HOST: '0.0.0.0', SCHEDULER_PORT: '0', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await scheduler.exited).toBe(1);
    expect(scheduler.logs.map((line) => line.msg).join('\n')).toMatch(/BIND_HOST=0\.0\.0\.0 is not a loopback address and no API token is configured/);
  });
});
