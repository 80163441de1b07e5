import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, NETWORK_ERROR, buildQuery, errorFromResponse, filenameFromDisposition } from './api';
import { TokenStore } from './tokens';

const config = { coreUrl: 'http://core.test', aiUrl: 'http://ai.test:8000' };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

function envelope(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  return {
    timestamp: '2026-01-01T00:00:00.000Z',
    status,
    error: 'Error',
    message,
    path: '/api/v1/x',
    trace_id: 'trace-123',
    code,
    ...extra,
  };
}

interface Call {
  url: string;
  method: string;
  auth: string | null;
  body: unknown;
  contentType: string | null;
}

/** A fetch that answers from `handler` and records every call. */
function fakeFetch(handler: (call: Call, index: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const call: Call = {
      url: String(input),
      method: init?.method ?? 'GET',
      auth: headers.get('Authorization'),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : init?.body,
      contentType: headers.get('Content-Type'),
    };
    calls.push(call);
    return handler(call, calls.length - 1);
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

function tokensWith(access: string | null, refresh = 'refresh-1'): TokenStore {
  const store = new TokenStore(localStorage);
  if (access) store.set({ accessToken: access, refreshToken: refresh });
  return store;
}

describe('error envelopes', () => {
  it('turns an envelope into a typed ApiError', async () => {
    const { fetch } = fakeFetch(() =>
      json(
        422,
        envelope(422, 'PARAMETERS_INVALID', 'Parameters do not match', {
          details: { 'parameters.character': ['Field required'], 'parameters.ripple_effects.2': ['Too long'] },
        }),
      ),
    );
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch });
    const error = await client.core('/scenarios', { method: 'POST', body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe('PARAMETERS_INVALID');
    expect(e.message).toBe('Parameters do not match');
    expect(e.traceId).toBe('trace-123');
    expect(e.details).toEqual({ 'parameters.character': ['Field required'], 'parameters.ripple_effects.2': ['Too long'] });
  });

  it('keeps extra top-level fields (the ids a 503 kept)', () => {
    const e = errorFromResponse(503, envelope(503, 'AI_UNAVAILABLE', 'AI down', { message_id: 'm1', assistant_message_id: 'a1' }));
    expect(e.code).toBe('AI_UNAVAILABLE');
    expect(e.extra).toEqual({ message_id: 'm1', assistant_message_id: 'a1' });
  });

  it('gives plain words for an error without an envelope', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'X-Request-ID': 'rid-9' } }));
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch });
    const e = (await client.core('/novels').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(502);
    expect(e.code).toBe('HTTP_502');
    expect(e.message).toMatch(/server had a problem/i);
    expect(e.traceId).toBe('rid-9');
  });

  it('turns a failed connection into a friendly network error', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof globalThis.fetch;
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch });
    const e = (await client.core('/novels').catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(0);
    expect(e.code).toBe(NETWORK_ERROR);
    expect(e.isNetwork).toBe(true);
    expect(e.message).toBe('Cannot reach the server. Check your connection and try again.');
  });

  it('lets an abort through as an abort', async () => {
    const fetch = vi.fn(async () => {
      throw new DOMException('aborted', 'AbortError');
    }) as unknown as typeof globalThis.fetch;
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch });
    const e = await client.core('/novels').catch((x: unknown) => x);
    expect((e as Error).name).toBe('AbortError');
  });

  it('answers undefined for 204 and parses JSON otherwise', async () => {
    const { fetch } = fakeFetch((call) => (call.method === 'DELETE' ? new Response(null, { status: 204 }) : json(200, { ok: 1 })));
    const client = new ApiClient({ config, tokens: tokensWith('a'), fetch });
    await expect(client.core('/conversations/1/memo', { method: 'DELETE' })).resolves.toBeUndefined();
    await expect(client.core('/x')).resolves.toEqual({ ok: 1 });
  });
});

describe('tokens and refresh', () => {
  it('sends the access token and JSON bodies', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, {}));
    const client = new ApiClient({ config, tokens: tokensWith('access-1'), fetch });
    await client.core('/conversations', { method: 'POST', body: { scenario_id: 's' } });
    expect(calls[0]).toMatchObject({
      url: 'http://core.test/api/v1/conversations',
      method: 'POST',
      auth: 'Bearer access-1',
      body: { scenario_id: 's' },
      contentType: 'application/json',
    });
  });

  it('sends multipart bodies as they are (the browser sets the boundary)', async () => {
    const { fetch, calls } = fakeFetch(() => json(202, { job_id: 'j' }));
    const client = new ApiClient({ config, tokens: tokensWith('access-1'), fetch });
    const form = new FormData();
    form.append('file', new Blob(['text']), 'novel.txt');
    await client.ai('/novels/ingest', { method: 'POST', form });
    expect(calls[0].url).toBe('http://ai.test:8000/api/ai/novels/ingest');
    expect(calls[0].body).toBe(form);
    expect(calls[0].contentType).toBeNull();
  });

  it('on a 401 refreshes once and retries with the new token', async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.url.endsWith('/auth/refresh')) return json(200, { access_token: 'access-2', expires_in: 3600, token_type: 'Bearer' });
      return call.auth === 'Bearer access-2' ? json(200, { id: 'me' }) : json(401, envelope(401, 'TOKEN_INVALID', 'Token expired'));
    });
    const tokens = tokensWith('access-1', 'refresh-1');
    const client = new ApiClient({ config, tokens, fetch });
    await expect(client.core('/users/me/liked-conversations')).resolves.toEqual({ id: 'me' });
    expect(calls.map((c) => [c.url.replace('http://core.test/api/v1', ''), c.auth])).toEqual([
      ['/users/me/liked-conversations', 'Bearer access-1'],
      ['/auth/refresh', null],
      ['/users/me/liked-conversations', 'Bearer access-2'],
    ]);
    expect(calls[1].body).toEqual({ refresh_token: 'refresh-1' });
    expect(tokens.accessToken).toBe('access-2');
    expect(tokens.refreshToken).toBe('refresh-1');
    // Kept for a reload.
    expect(JSON.parse(localStorage.getItem('gaji.auth')!)).toEqual({ accessToken: 'access-2', refreshToken: 'refresh-1' });
  });

  it('shares one refresh between concurrent 401s', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { fetch, calls } = fakeFetch(async (call) => {
      if (call.url.endsWith('/auth/refresh')) {
        await gate;
        return json(200, { access_token: 'access-2' });
      }
      return call.auth === 'Bearer access-2' ? json(200, { url: call.url }) : json(401, envelope(401, 'TOKEN_INVALID', 'expired'));
    });
    const client = new ApiClient({ config, tokens: tokensWith('access-1'), fetch });
    const pending = [client.core('/a'), client.core('/b'), client.ai('/c')];
    await vi.waitFor(() => expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(1));
    release();
    const results = await Promise.all(pending);
    expect(results).toHaveLength(3);
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(1);
    expect(calls.filter((c) => c.auth === 'Bearer access-2')).toHaveLength(3);
  });

  it('retries without refreshing when another call already refreshed', async () => {
    const tokens = tokensWith('access-1');
    const { fetch, calls } = fakeFetch((call) => {
      if (call.auth === 'Bearer access-1') {
        tokens.setAccess('access-2'); // another tab/call refreshed meanwhile
        return json(401, envelope(401, 'TOKEN_INVALID', 'expired'));
      }
      return json(200, {});
    });
    const client = new ApiClient({ config, tokens, fetch });
    await client.core('/x');
    expect(calls.some((c) => c.url.endsWith('/auth/refresh'))).toBe(false);
    expect(calls[1].auth).toBe('Bearer access-2');
  });

  it('logs out when the refresh is refused', async () => {
    const onLogout = vi.fn();
    const { fetch, calls } = fakeFetch((call) =>
      call.url.endsWith('/auth/refresh')
        ? json(401, envelope(401, 'TOKEN_INVALID', 'Refresh token expired'))
        : json(401, envelope(401, 'TOKEN_INVALID', 'Token expired')),
    );
    const tokens = tokensWith('access-1');
    const client = new ApiClient({ config, tokens, fetch, onLogout });
    const e = (await client.core('/users/me/liked-conversations').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(401);
    expect(onLogout).toHaveBeenCalledTimes(1);
    expect(tokens.accessToken).toBeNull();
    expect(localStorage.getItem('gaji.auth')).toBeNull();
    expect(calls).toHaveLength(2); // no retry after a refused refresh
  });

  it('logs out on a blacklisted refresh token (403)', async () => {
    const onLogout = vi.fn();
    const { fetch } = fakeFetch((call) =>
      call.url.endsWith('/auth/refresh') ? json(403, envelope(403, 'TOKEN_BLACKLISTED', 'Blacklisted')) : json(401, envelope(401, 'TOKEN_INVALID', 'x')),
    );
    const client = new ApiClient({ config, tokens: tokensWith('a'), fetch, onLogout });
    await client.core('/x').catch(() => undefined);
    expect(onLogout).toHaveBeenCalled();
  });

  it('does not refresh a call sent without a token (e.g. a bad login)', async () => {
    const { fetch, calls } = fakeFetch(() => json(401, envelope(401, 'INVALID_CREDENTIALS', 'Invalid email or password.')));
    const onLogout = vi.fn();
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch, onLogout });
    const e = (await client.core('/auth/login', { method: 'POST', body: {}, auth: 'none' }).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('INVALID_CREDENTIALS');
    expect(calls).toHaveLength(1);
    expect(onLogout).not.toHaveBeenCalled();
  });

  it('keeps the session when the refresh cannot reach the server', async () => {
    const onLogout = vi.fn();
    const tokens = tokensWith('access-1');
    const fetch = vi.fn(async (input: RequestInfo | URL) => {
      if (String(input).endsWith('/auth/refresh')) throw new TypeError('offline');
      return json(401, envelope(401, 'TOKEN_INVALID', 'expired'));
    }) as unknown as typeof globalThis.fetch;
    const client = new ApiClient({ config, tokens, fetch, onLogout });
    const e = (await client.core('/x').catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe(NETWORK_ERROR);
    expect(onLogout).not.toHaveBeenCalled();
    expect(tokens.refreshToken).toBe('refresh-1');
  });
});

describe('query building', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(buildQuery({ q: 'Darcy & Lizzy', page: 0, size: 20, status: '', base_story: undefined, x: null })).toBe('?q=Darcy+%26+Lizzy&page=0&size=20');
    expect(buildQuery({ has_forks: true, min_quality: 0.6 })).toBe('?has_forks=true&min_quality=0.6');
    expect(buildQuery({ tag: ['a', 'b'] })).toBe('?tag=a&tag=b');
    expect(buildQuery({ n: Number.NaN })).toBe('');
    expect(buildQuery({})).toBe('');
    expect(buildQuery(undefined)).toBe('');
  });

  it('builds URLs on both services', () => {
    const client = new ApiClient({ config, tokens: tokensWith(null), fetch: vi.fn() as unknown as typeof fetch });
    expect(client.url('core', '/scenarios', { scenario_type: 'CHARACTER_CHANGE', page: 2 })).toBe(
      'http://core.test/api/v1/scenarios?scenario_type=CHARACTER_CHANGE&page=2',
    );
    expect(client.url('ai', 'search/passages')).toBe('http://ai.test:8000/api/ai/search/passages');
  });
});

describe('file downloads', () => {
  it('reads the file name of Content-Disposition (filename* first, no path parts)', () => {
    expect(filenameFromDisposition('attachment; filename="tea.json"')).toBe('tea.json');
    expect(filenameFromDisposition("attachment; filename=\"x.json\"; filename*=UTF-8''%C3%89lodie%20card.png")).toBe('Élodie card.png');
    expect(filenameFromDisposition('attachment; filename=plain.jsonl')).toBe('plain.jsonl');
    expect(filenameFromDisposition('attachment; filename="../../etc/passwd"')).toBe('passwd');
    expect(filenameFromDisposition('attachment')).toBeNull();
    expect(filenameFromDisposition(null)).toBeNull();
  });

  it('sends the token, refreshes once on 401 and gives the bytes and the name', async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.url.endsWith('/auth/refresh')) return json(200, { access_token: 'fresh' });
      if (call.auth === 'Bearer stale') return json(401, envelope(401, 'UNAUTHORIZED', 'Expired.'));
      return new Response('PNGBYTES', { status: 200, headers: { 'Content-Type': 'image/png', 'Content-Disposition': 'attachment; filename="sera.png"' } });
    });
    const client = new ApiClient({ config, tokens: tokensWith('stale'), fetch });
    const got = await client.download('core', '/characters/c1/export', { query: { format: 'png' } });
    expect(got.filename).toBe('sera.png');
    expect(got.contentType).toBe('image/png');
    expect(await got.blob.text()).toBe('PNGBYTES');
    expect(calls.map((c) => c.auth)).toEqual(['Bearer stale', null, 'Bearer fresh']);
    expect(calls[2].url).toBe('http://core.test/api/v1/characters/c1/export?format=png');
  });

  it('turns an error answer into an ApiError and falls back to a given name', async () => {
    const { fetch } = fakeFetch((call) =>
      call.url.includes('missing')
        ? json(404, envelope(404, 'NOT_FOUND', 'This card has no image.'))
        : new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json' } }),
    );
    const client = new ApiClient({ config, tokens: tokensWith('a'), fetch });
    await expect(client.download('core', '/missing')).rejects.toMatchObject({ status: 404, message: 'This card has no image.' });
    expect((await client.download('core', '/x', { fallbackName: 'book.json' })).filename).toBe('book.json');
  });
});
