/** A page under test: a signed-in (or anonymous) session over a fake
 * backend whose routes the test writes as `METHOD /path` handlers. */

import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { vi } from 'vitest';
import { ApiClient } from '../lib/api';
import { makeApi } from '../lib/endpoints';
import { SessionProvider } from '../lib/session';
import { TokenStore } from '../lib/tokens';

export const USER_ID = '11111111-1111-4111-8111-111111111111';

export function jwt(claims: Record<string, unknown>): string {
  const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'RS256' })}.${b64(claims)}.signature`;
}

export function json(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** A file answer (an export), as the services send one. */
export function file(body: string, contentType: string, filename: string | null): Response {
  const headers: Record<string, string> = { 'Content-Type': contentType };
  if (filename !== null) headers['Content-Disposition'] = `attachment; filename="${filename}"`;
  return new Response(body, { status: 200, headers });
}

/** Object URLs and link clicks (jsdom has neither): what was saved, under which name. */
export function captureDownloads(onFinished: (fn: () => void) => void) {
  const saved: Array<{ name: string; blob: Blob }> = [];
  const blobs = new Map<string, Blob>();
  let n = 0;
  const original = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };
  URL.createObjectURL = vi.fn((blob: Blob) => {
    const url = `blob:test/${++n}`;
    blobs.set(url, blob);
    return url;
  });
  URL.revokeObjectURL = vi.fn();
  const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    saved.push({ name: this.download, blob: blobs.get(this.href) as Blob });
  });
  onFinished(() => {
    URL.createObjectURL = original.create;
    URL.revokeObjectURL = original.revoke;
    click.mockRestore();
  });
  return saved;
}

/** The services' error envelope. */
export function envelope(status: number, code: string, message: string, details?: Record<string, string[]>): Response {
  return json(status, { status, code, message, details, trace_id: 't', path: '', error: '', timestamp: '' });
}

export interface Sent {
  method: string;
  /** Without /api/v1; ai's routes as /ai/... */
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** A multipart body (FormData), as sent. */
  form?: FormData;
  auth: string | null;
}

export type Handler = (request: Sent) => Response | Promise<Response>;

/** Routes keyed `GET /users/me` (exact path); anything else is a 404 envelope. */
export function fakeBackend(routes: Record<string, Handler>) {
  const requests: Sent[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const path = url.pathname.replace('/api/v1', '').replace('/api/ai', '/ai');
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const form = init?.body instanceof FormData ? init.body : undefined;
    const sent: Sent = { method, path, query: url.searchParams, body, form, auth: headers.Authorization ?? null };
    requests.push(sent);
    const handler = routes[`${method} ${path}`];
    return handler ? handler(sent) : envelope(404, 'NOT_FOUND', 'Not found.');
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, requests, routes };
}

/** Shows where the app went (a route's pathname), for navigation assertions. */
function Where() {
  const location = useLocation();
  return (
    <p data-testid="where" data-state={JSON.stringify(location.state ?? null)}>
      {location.pathname}
      {location.search}
    </p>
  );
}

export function renderRoutes(
  pages: Array<{ path: string; element: ReactElement }>,
  options: { at: string; routes: Record<string, Handler>; signedIn?: boolean; username?: string; layout?: (children: ReactElement) => ReactElement },
) {
  const server = fakeBackend(options.routes);
  const tokens = new TokenStore(localStorage);
  if (options.signedIn !== false) {
    tokens.set({ accessToken: jwt({ sub: USER_ID, username: options.username ?? 'reader', is_staff: false }), refreshToken: 'r1' });
  }
  const api = makeApi(new ApiClient({ config: { coreUrl: 'http://core.test', aiUrl: 'http://ai.test' }, tokens, fetch: server.fetch }));
  const routes = (
    <Routes>
      {pages.map((p) => (
        <Route key={p.path} path={p.path} element={p.element} />
      ))}
      <Route path="*" element={<p>elsewhere</p>} />
    </Routes>
  );
  const view = render(
    <MemoryRouter initialEntries={[options.at]}>
      <SessionProvider api={api}>
        <Where />
        {options.layout ? options.layout(routes) : routes}
      </SessionProvider>
    </MemoryRouter>,
  );
  return { ...view, server, tokens, api };
}
