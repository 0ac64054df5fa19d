export interface ApiInit {
  method?: string;
  token?: string;
  body?: unknown;
}

/** One JSON call to the api as a client makes it, with a bearer token when given. */
export async function callApi(origin: string, path: string, init: ApiInit = {}) {
  const res = await fetch(`${origin}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response shapes are asserted field by field
  return { status: res.status, body: (await res.json()) as any };
}
