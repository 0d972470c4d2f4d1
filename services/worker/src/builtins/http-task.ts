import { ValidationError } from '../../../common/src/errors';
import { isHostAllowed } from './host-allowlist';
import { payloadObject, stringRecordField, timeoutField } from './payload-fields';

/**
 * The built-in `http` task type: one HTTP request with global fetch, as docs/builtin-tasks.md describes.
 * A 2xx answer is the result; any other answer, a network error or the timeout fails the attempt, so the
 * task's retry policy applies. Redirects are followed by hand so that every hop is checked against the
 * host allowlist and counted.
 */

export interface HttpTaskOptions {
  /** HTTP_ALLOW_HOSTS: exact host names and "*.example.com" wildcards; empty or absent allows every host. */
  allowHosts?: readonly string[];
  /** TASK_OUTPUT_MAX_BYTES: the most response body bytes kept in the result. */
  maxBodyBytes: number;
  /** HTTP_MAX_REDIRECTS: redirects followed before the attempt fails. */
  maxRedirects: number;
  /** HTTP_TIMEOUT: the whole request's time limit (redirects and body included) when the payload sets none. */
  defaultTimeoutMs: number;
}

export interface HttpTaskPayload {
  url: URL;
  method: string;
  headers: Record<string, string>;
  /** The bytes sent: a string as is, any other JSON value as JSON. */
  body?: string;
  timeoutMs: number;
}

export interface HttpTaskResult {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the answer says it is JSON and came whole, else text. */
  body: string | unknown;
  /** Present when the body was longer than maxBodyBytes and was cut. */
  truncated?: true;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const REDIRECTS = [301, 302, 303, 307, 308];
/** RFC 9110 token characters, the only ones a header name may use. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** How much of a failed answer's body is read to quote it in the error. */
const ERROR_BODY_BYTES = 1024;
const ERROR_BODY_CHARS = 200;

/** Checks an `http` payload; throws a ValidationError naming the field. */
export function parseHttpPayload(payload: unknown, defaultTimeoutMs: number): HttpTaskPayload {
  const fields = payloadObject(payload, 'http');
  const url = parseUrl(fields.url);
  const method = fields.method === undefined ? 'GET' : fields.method;
  if (typeof method !== 'string' || !METHODS.includes(method.toUpperCase())) {
    throw new ValidationError(`method must be one of ${METHODS.join(', ')}`, 'payload.method');
  }
  const headers = stringRecordField(fields.headers, 'headers', (key, value) => {
    if (!HEADER_NAME.test(key)) return `"${key}" is not a valid header name`;
    if (/[\r\n\0]/.test(value)) return `the value of "${key}" must not contain CR, LF or NUL`;
    return undefined;
  });
  let body: string | undefined;
  if (fields.body !== undefined && fields.body !== null) {
    if (method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD') {
      throw new ValidationError(`body is not allowed with ${method.toUpperCase()}`, 'payload.body');
    }
    if (typeof fields.body === 'string') {
      body = fields.body;
    } else {
      body = JSON.stringify(fields.body);
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
  }
  return { url, method: method.toUpperCase(), headers, body, timeoutMs: timeoutField(fields.timeout_ms, defaultTimeoutMs) };
}

function parseUrl(value: unknown): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ValidationError('url must be an absolute http(s) URL', 'payload.url');
  }
  return url;
}

/** Builds the `http` task's run function. */
export function createHttpTask(options: HttpTaskOptions): (payload: unknown, ctx: { signal: AbortSignal }) => Promise<HttpTaskResult> {
  const allowHosts = options.allowHosts ?? [];
  const checkHost = (url: URL, what: string): void => {
    if (!isHostAllowed(url.hostname, allowHosts)) {
      throw new Error(`${what} host "${url.hostname}" refused: it is not in the allowed hosts (HTTP_ALLOW_HOSTS)`);
    }
  };

  return async (payload, ctx) => {
    const request = parseHttpPayload(payload, options.defaultTimeoutMs);
    checkHost(request.url, 'request to');
    const deadline = AbortSignal.timeout(request.timeoutMs);
    const signal = AbortSignal.any([ctx.signal, deadline]);
    const describeAbort = (host: string, cause: unknown): Error => {
      if (deadline.aborted && !ctx.signal.aborted) return new Error(`request to ${host} timed out after ${request.timeoutMs} ms`);
      if (ctx.signal.aborted) return new Error(`request to ${host} was aborted: ${reasonText(ctx.signal.reason)}`);
      return new Error(`request to ${host} failed: ${causeText(cause)}`);
    };

    let url = request.url;
    let method = request.method;
    let body = request.body;
    const headers = { ...request.headers };
    for (let redirects = 0; ; redirects++) {
      let response: Response;
      try {
        response = await fetch(url, { method, headers, body, redirect: 'manual', signal });
      } catch (error) {
        throw describeAbort(url.host, error);
      }

      const location = response.headers.get('location');
      if (REDIRECTS.includes(response.status) && location !== null) {
        await response.body?.cancel().catch(() => undefined);
        if (redirects >= options.maxRedirects) {
          throw new Error(`request to ${request.url.host} failed: more than ${options.maxRedirects} redirects`);
        }
        const next = resolveRedirect(location, url);
        checkHost(next, 'redirect to');
        // 303, and 301/302 after a POST, turn into a GET without a body, as browsers and fetch do.
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          deleteHeader(headers, 'content-type');
        }
        // Credentials meant for one origin are not handed to another (the fetch standard drops Authorization too).
        if (next.origin !== url.origin) {
          deleteHeader(headers, 'authorization');
          deleteHeader(headers, 'cookie');
        }
        url = next;
        continue;
      }

      try {
        if (response.status < 200 || response.status > 299) {
          const { bytes } = await readBounded(response, ERROR_BODY_BYTES);
          const quoted = new TextDecoder().decode(bytes).slice(0, ERROR_BODY_CHARS);
          throw new HttpStatusError(`HTTP ${response.status} from ${url.host}: ${quoted}`, response.status);
        }
        const { bytes, truncated } = await readBounded(response, options.maxBodyBytes);
        const result: HttpTaskResult = {
          status: response.status,
          headers: headerRecord(response.headers),
          body: decodeBody(bytes, truncated, response.headers.get('content-type')),
        };
        if (truncated) result.truncated = true;
        return result;
      } catch (error) {
        if (error instanceof HttpStatusError) throw error;
        throw describeAbort(url.host, error);
      }
    }
  };
}

/** A non-2xx answer; `status` lets a caller tell 4xx from 5xx. */
export class HttpStatusError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'HttpStatusError';
  }
}

function resolveRedirect(location: string, from: URL): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new Error(`request to ${from.host} failed: redirect to an invalid URL "${location.slice(0, 200)}"`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new Error(`request to ${from.host} failed: redirect to a ${next.protocol} URL is not followed`);
  }
  return next;
}

/** Reads at most `limit` bytes and cancels the rest, so a huge answer costs no more than the limit. */
async function readBounded(response: Response, limit: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (response.body === null) return { bytes: new Uint8Array(0), truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      chunks.push(value.subarray(0, limit - size));
      size = limit;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

function decodeBody(bytes: Uint8Array, truncated: boolean, contentType: string | null): string | unknown {
  const text = new TextDecoder().decode(bytes);
  const isJson = contentType !== null && /^application\/([\w.+-]*\+)?json\b/i.test(contentType.trim());
  if (isJson && !truncated && text.trim() !== '') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // A server that says JSON and sends something else: keep what it sent, as text.
    }
  }
  return text;
}

/** Response headers as a plain object; repeated headers (Set-Cookie) are joined with ", ". */
function headerRecord(headers: Headers): Record<string, string> {
  const record = new Map<string, string>();
  headers.forEach((value, name) => {
    const earlier = record.get(name);
    record.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  });
  return Object.fromEntries(record);
}

function deleteHeader(headers: Record<string, string>, name: string): void {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) delete headers[key];
}

// Duck-typed rather than `instanceof Error`: fetch's errors may come from another realm (a vm context, jest).
function reasonText(reason: unknown): string {
  return messageOf(reason) ?? String(reason);
}

/** fetch says only "fetch failed"; the useful part (ECONNREFUSED, a TLS error) is in its cause. */
function causeText(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const message = messageOf(cause);
  if (message === undefined) return messageOf(error) ?? String(error);
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

function messageOf(value: unknown): string | undefined {
  const message = (value as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : undefined;
}
