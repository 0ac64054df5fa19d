import type { Session, ShareToken } from './api-types';

/** An error answer of the API (`{error: {code, message, details?}}`) or a network failure (status 0). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string[]> = {},
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export type Query = Record<string, string | number | undefined>;

export interface Client {
  get<T>(path: string, query?: Query): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

const BASE = '/api/v1';

async function request<T>(token: string | null, method: string, path: string, query?: Query, body?: unknown) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {}))
    if (value !== undefined) search.set(key, String(value));
  const url = `${BASE}${path}${search.size ? `?${search}` : ''}`;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  // Only with a body: the API refuses an empty body announced as JSON.
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, 'network', 'The server cannot be reached. Check your connection and retry.');
  }
  const json = (await res.json().catch(() => null)) as {
    error?: { code: string; message: string; details?: Record<string, string[]> };
  } | null;
  if (!res.ok) {
    const error = json?.error;
    throw new ApiFailure(
      res.status,
      error?.code ?? 'http_error',
      error?.message ?? res.statusText,
      error?.details,
    );
  }
  return json as T;
}

/** Calls without a token: login, signup, the public configuration, share tokens. */
export const anonymous: Client = {
  get: (path, query) => request(null, 'GET', path, query),
  send: (method, path, body) => request(null, method, path, undefined, body),
};

/** Calls as the signed-in user; a 401 means the session ended, and `onExpired` signs out. */
export function sessionClient(session: Session, onExpired: () => void): Client {
  const call = async <T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> => {
    try {
      return await request<T>(session.token, method, path, query, body);
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) onExpired();
      throw err;
    }
  };
  return {
    get: (path, query) => call('GET', path, query),
    send: (method, path, body) => call(method, path, undefined, body),
  };
}

/** Renew a share token this long before it expires, so no request goes out with a stale one. */
const RENEW_MARGIN_MS = 60_000;

/**
 * Calls of a public dashboard: a short-lived share token for that site, fetched when needed and
 * again when it expires or is refused (the owner may have turned sharing off and on again).
 */
export function shareClient(siteKey: string): Client & { token(): Promise<ShareToken> } {
  let current: Promise<ShareToken> | null = null;
  const token = () => {
    current ??= anonymous
      .get<{ data: ShareToken }>(`/share/${encodeURIComponent(siteKey)}/token`)
      .then((res) => res.data)
      .catch((err: unknown) => {
        current = null;
        throw err;
      });
    return current;
  };
  const call = async <T>(path: string, query?: Query, retried = false): Promise<T> => {
    let share = await token();
    if (Date.parse(share.expires_at) - Date.now() < RENEW_MARGIN_MS) {
      current = null;
      share = await token();
    }
    try {
      return await request<T>(share.token, 'GET', path, query);
    } catch (err) {
      if (!retried && err instanceof ApiFailure && err.status === 401) {
        current = null;
        return call(path, query, true);
      }
      throw err;
    }
  };
  return {
    token,
    get: (path, query) => call(path, query),
    send: () => Promise.reject(new ApiFailure(403, 'forbidden', 'A public dashboard is read-only.')),
  };
}
