import type { ErrorBody } from '../../../services/scheduler/src/api-types';

/** A failed API call, carrying the scheduler's {error:{code,message,field}} so forms can point at the field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'taskmaster.apiToken';

/** The bearer token the scheduler's API asks for once tokens are configured (docs/api.md); kept in this browser only. */
export function readApiToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveApiToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** The API's messages are lower-case clauses; shown alone they read better as sentences. A leading field name stays as is. */
function sentence(text: string): string {
  const first = text.split(' ', 1)[0];
  const start = /[_\d]/.test(first) ? text : text.charAt(0).toUpperCase() + text.slice(1);
  return start + (/[.!?]$/.test(text) ? '' : '.');
}

function errorFrom(status: number, body: unknown): ApiError {
  const error = (body as Partial<ErrorBody> | undefined)?.error;
  if (status === 401) {
    return new ApiError(401, 'unauthorized', 'This scheduler requires an API token. Set it with the key button at the top right.');
  }
  if (status === 403) {
    return new ApiError(403, 'forbidden', 'The API token set here is a viewer\'s: changes need an operator token. Set one with the key button at the top right.');
  }
  if (error && typeof error.message === 'string') return new ApiError(status, error.code, sentence(error.message), error.field);
  if (status === 502 || status === 503 || status === 504) {
    return new ApiError(status, 'unavailable', `The scheduler is not answering (HTTP ${status}). It may be restarting; try again in a moment.`);
  }
  return new ApiError(status, `http_${status}`, `The scheduler answered with HTTP ${status}.`);
}

/** Calls the scheduler's API and returns the parsed JSON, or throws an ApiError with a message fit for people. */
export async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = readApiToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'unreachable', 'Cannot reach the scheduler. Check that it is running; the dashboard keeps retrying.');
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) throw errorFrom(response.status, json);
  return json as T;
}

/** A message for any thrown value: ApiErrors already carry one. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
