import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpTask, type HttpTaskOptions } from '../src/builtins/http-task';
import { isHostAllowed } from '../src/builtins/host-allowlist';

// A real node:http server on 127.0.0.1 answers every request; each test sets what it does.
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
let server: Server;
let base: string;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    // No keep-alive: afterEach cuts every connection, and fetch would reuse a cut one.
    res.setHeader('connection', 'close');
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterEach(() => server.closeAllConnections());
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const defaults: HttpTaskOptions = { maxBodyBytes: 64 * 1024, maxRedirects: 3, defaultTimeoutMs: 10_000 };
const ctx = () => ({ signal: new AbortController().signal });

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

describe('http task', () => {
  test('a 2xx JSON answer is the result, parsed; the request carries method, headers and a JSON body', async () => {
    let seen: { method?: string; type?: string; token?: string; body?: string } = {};
    handler = (req, res, body) => {
      seen = { method: req.method, type: req.headers['content-type'], token: req.headers['x-token'] as string, body };
      json(res, 201, { created: true, echo: JSON.parse(body) });
    };
    const run = createHttpTask(defaults);
    const result = await run({ url: `${base}/items`, method: 'post', headers: { 'X-Token': 'abc' }, body: { n: 1 } }, ctx());
    expect(result.status).toBe(201);
    expect(result.body).toEqual({ created: true, echo: { n: 1 } });
    expect(result.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(result.truncated).toBeUndefined();
    expect(seen).toEqual({ method: 'POST', type: 'application/json', token: 'abc', body: '{"n":1}' });
  });

  test('a text answer stays text, and a string body is sent as is', async () => {
    handler = (_req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`got ${body}`);
    };
    const result = await createHttpTask(defaults)({ url: `${base}/`, method: 'PUT', body: 'raw {text}' }, ctx());
    expect(result).toEqual(expect.objectContaining({ status: 200, body: 'got raw {text}' }));
  });

  test('a 500 fails the attempt with the status, the host and the start of the body', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`database down ${'x'.repeat(1000)}`);
    };
    const failure = createHttpTask(defaults)({ url: `${base}/` }, ctx());
    await expect(failure).rejects.toThrow(`HTTP 500 from 127.0.0.1:${port}: database down ${'x'.repeat(186)}`);
    await expect(failure).rejects.not.toThrow('x'.repeat(187));
  });

  test('a server that answers 500 then 200: the first call fails, the second succeeds', async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls += 1;
      if (calls === 1) json(res, 500, { error: 'try again' });
      else json(res, 200, { ok: true });
    };
    const run = createHttpTask(defaults);
    await expect(run({ url: `${base}/flaky` }, ctx())).rejects.toThrow(/^HTTP 500 from .*try again/);
    expect((await run({ url: `${base}/flaky` }, ctx())).body).toEqual({ ok: true });
    expect(calls).toBe(2);
  });

  test('timeout_ms bounds a request that never answers', async () => {
    handler = () => undefined; // never answers
    await expect(createHttpTask(defaults)({ url: `${base}/slow`, timeout_ms: 200 }, ctx())).rejects.toThrow(
      `request to 127.0.0.1:${port} timed out after 200 ms`,
    );
  });

  test('an abort of ctx.signal (drain) stops the request', async () => {
    handler = () => undefined;
    const controller = new AbortController();
    const running = createHttpTask(defaults)({ url: `${base}/slow` }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('worker draining')), 100);
    await expect(running).rejects.toThrow(`request to 127.0.0.1:${port} was aborted: worker draining`);
  });

  test('a connection error fails with its cause', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(createHttpTask(defaults)({ url: `http://127.0.0.1:${closedPort}/` }, ctx())).rejects.toThrow(
      /request to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
    );
  });

  test('redirects are followed up to the limit, 303 turns into a GET, and one more fails', async () => {
    const methods: string[] = [];
    handler = (req, res) => {
      methods.push(`${req.method} ${req.url}`);
      const hop = Number(new URL(req.url!, base).searchParams.get('hop'));
      const stop = Number(new URL(req.url!, base).searchParams.get('stop'));
      if (hop < stop) {
        res.writeHead(hop === 0 ? 303 : 307, { location: `/r?hop=${hop + 1}&stop=${stop}` });
        res.end();
      } else {
        json(res, 200, { hop });
      }
    };
    const run = createHttpTask({ ...defaults, maxRedirects: 3 });
    const result = await run({ url: `${base}/r?hop=0&stop=3`, method: 'POST', body: 'x' }, ctx());
    expect(result.body).toEqual({ hop: 3 });
    expect(methods).toEqual(['POST /r?hop=0&stop=3', 'GET /r?hop=1&stop=3', 'GET /r?hop=2&stop=3', 'GET /r?hop=3&stop=3']);
    await expect(run({ url: `${base}/r?hop=0&stop=4` }, ctx())).rejects.toThrow('more than 3 redirects');
  });

  test('HTTP_ALLOW_HOSTS refuses a host outside it, before connecting and on every redirect hop', async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls += 1;
      res.writeHead(302, { location: `http://localhost:${port}/elsewhere` });
      res.end();
    };
    const run = createHttpTask({ ...defaults, allowHosts: ['127.0.0.1'] });
    await expect(run({ url: `http://localhost:${port}/` }, ctx())).rejects.toThrow(
      'request to host "localhost" refused: it is not in the allowed hosts (HTTP_ALLOW_HOSTS)',
    );
    expect(calls).toBe(0);
    await expect(run({ url: `${base}/start` }, ctx())).rejects.toThrow('redirect to host "localhost" refused');
    expect(calls).toBe(1);

    handler = (_req, res) => json(res, 200, { ok: true });
    expect((await run({ url: `${base}/` }, ctx())).status).toBe(200);
  });

  test('host matching: exact names and *.wildcards, case and trailing dot ignored', () => {
    const list = ['api.example.com', '*.internal.test', '[::1]'];
    expect(isHostAllowed('API.example.com.', list)).toBe(true);
    expect(isHostAllowed('a.b.internal.test', list)).toBe(true);
    expect(isHostAllowed('internal.test', list)).toBe(false);
    expect(isHostAllowed('evilinternal.test', list)).toBe(false);
    expect(isHostAllowed('example.com', list)).toBe(false);
    expect(isHostAllowed('[::1]', list)).toBe(true);
    expect(isHostAllowed('anything', [])).toBe(true);
  });

  test('a body longer than maxBodyBytes is cut and flagged; cut JSON stays text', async () => {
    handler = (req, res) => {
      const isJson = req.url === '/json';
      res.writeHead(200, { 'content-type': isJson ? 'application/json' : 'text/plain' });
      res.end(isJson ? JSON.stringify({ data: 'y'.repeat(5000) }) : 'z'.repeat(5000));
    };
    const run = createHttpTask({ ...defaults, maxBodyBytes: 1000 });
    const text = await run({ url: `${base}/text` }, ctx());
    expect(text.body).toBe('z'.repeat(1000));
    expect(text.truncated).toBe(true);
    const cut = await run({ url: `${base}/json` }, ctx());
    expect(cut.body).toBe(`{"data":"${'y'.repeat(991)}`);
    expect(cut.truncated).toBe(true);
  });

  test('bad payloads fail with an error naming the field', async () => {
    const run = createHttpTask(defaults);
    await expect(run('https://example.com', ctx())).rejects.toMatchObject({ field: 'payload' });
    await expect(run({ url: 'example.com/x' }, ctx())).rejects.toThrow('url must be an absolute http(s) URL');
    await expect(run({ url: 'file:///etc/passwd' }, ctx())).rejects.toMatchObject({ field: 'payload.url' });
    await expect(run({ url: base, method: 'FETCH' }, ctx())).rejects.toThrow(/^method must be one of GET, HEAD/);
    await expect(run({ url: base, headers: { 'x-n': 1 } }, ctx())).rejects.toThrow('headers.x-n must be a string');
    await expect(run({ url: base, headers: { 'bad name': 'v' } }, ctx())).rejects.toThrow('not a valid header name');
    await expect(run({ url: base, body: { a: 1 } }, ctx())).rejects.toThrow('body is not allowed with GET');
    await expect(run({ url: base, timeout_ms: 0 }, ctx())).rejects.toMatchObject({ field: 'payload.timeout_ms' });
    await expect(run({ url: base, timeout_ms: 1e12 }, ctx())).rejects.toThrow(/^timeout_ms must be a whole number/);
  });
});
