import { expect } from 'vitest';

export interface ApiInit {
  method?: string;
  token?: string;
  /** Sent as JSON; a string is sent as it is (to send malformed JSON on purpose). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One JSON call to a running api as a client makes it, with a bearer token when given. */
export async function callApi(origin: string, path: string, init: ApiInit = {}) {
  const res = await fetch(`${origin}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body),
  });
  const text = await res.text();
  return {
    status: res.status,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response shapes are asserted field by field
    body: (text ? JSON.parse(text) : undefined) as any,
    headers: Object.fromEntries(res.headers) as Record<string, string>,
  };
}

/** Signs the first user up through the api and returns its session token. */
export async function signupOwner(origin: string, body: { email: string; name?: string }) {
  const res = await callApi(origin, '/api/v1/auth/signup', {
    method: 'POST',
    body: { password: 'correct horse battery', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data.token as string;
}
