/** The HTTP client for both services.
 *
 * - Every error becomes an `ApiError {status, code, message, details, traceId}`
 *   from the services' envelope `{timestamp, status, error, message, path,
 *   trace_id, code?, details?}`; a failed connection becomes status 0,
 *   code NETWORK_ERROR, with a plain-words message.
 * - A 401 on a request that carried the access token refreshes it once
 *   (concurrent 401s share one refresh) and retries; a refused refresh logs
 *   the user out (`onLogout`). The caller never sees the refresh.
 */

import type { RuntimeConfig } from './config';
import type { TokenStore } from './tokens';

export type FieldErrors = Record<string, string[]>;

export const NETWORK_ERROR = 'NETWORK_ERROR';
export const NETWORK_MESSAGE = 'Cannot reach the server. Check your connection and try again.';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldErrors;
  readonly traceId: string | null;
  /** Extra top-level envelope fields (e.g. the ids a 503 kept). */
  readonly extra: Record<string, unknown>;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: FieldErrors;
    traceId?: string | null;
    extra?: Record<string, unknown>;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.traceId = init.traceId ?? null;
    this.extra = init.extra ?? {};
  }

  get isNetwork(): boolean {
    return this.code === NETWORK_ERROR;
  }
}

const ENVELOPE_FIELDS = new Set(['timestamp', 'status', 'error', 'message', 'path', 'trace_id', 'code', 'details']);

function normaliseDetails(raw: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (Array.isArray(value)) out[key] = value.map(String);
    else if (value != null) out[key] = [String(value)];
  }
  return out;
}

function statusWords(status: number): string {
  if (status === 404) return 'We could not find that.';
  if (status === 429) return 'Too many requests. Please wait a moment and try again.';
  if (status >= 500) return 'The server had a problem. Please try again shortly.';
  return `The request failed (HTTP ${status}).`;
}

/** An error response (any body) as an ApiError. */
export function errorFromResponse(status: number, body: unknown, headers?: Headers): ApiError {
  const requestId = headers?.get('X-Request-ID') ?? null;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const env = body as Record<string, unknown>;
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(env)) if (!ENVELOPE_FIELDS.has(key)) extra[key] = value;
    return new ApiError({
      status,
      code: typeof env.code === 'string' && env.code ? env.code : `HTTP_${status}`,
      message: typeof env.message === 'string' && env.message ? env.message : statusWords(status),
      details: normaliseDetails(env.details),
      traceId: typeof env.trace_id === 'string' ? env.trace_id : requestId,
      extra,
    });
  }
  return new ApiError({ status, code: `HTTP_${status}`, message: statusWords(status), traceId: requestId });
}

export type QueryValue = string | number | boolean | null | undefined;

/** `?a=1&b=x`: null, undefined and '' are left out; booleans as true/false. */
export function buildQuery(params: Record<string, QueryValue | QueryValue[]> | undefined): string {
  if (!params) return '';
  const search = new URLSearchParams();
  for (const [key, raw] of Object.entries(params)) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      if (value === undefined || value === null || value === '') continue;
      if (typeof value === 'number' && !Number.isFinite(value)) continue;
      search.append(key, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export type Service = 'core' | 'ai';

export interface RequestOptions {
  method?: string;
  query?: Record<string, QueryValue | QueryValue[]>;
  /** JSON body. */
  body?: unknown;
  /** multipart body (FormData), sent as is. */
  form?: FormData;
  /** 'auto' sends the token when there is one; 'none' never does. */
  auth?: 'auto' | 'none';
  signal?: AbortSignal;
}

export interface ApiClientOptions {
  config: RuntimeConfig;
  tokens: TokenStore;
  fetch?: typeof fetch;
  /** Called when the session is over (refresh refused). */
  onLogout?: () => void;
}

export class ApiClient {
  readonly config: RuntimeConfig;
  readonly tokens: TokenStore;
  private readonly fetchImpl: typeof fetch;
  private refreshing: Promise<string | null> | null = null;
  onLogout: (() => void) | undefined;

  constructor(options: ApiClientOptions) {
    this.config = options.config;
    this.tokens = options.tokens;
    // Bound: a bare `fetch` called as a method loses `this` in browsers.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onLogout = options.onLogout;
  }

  url(service: Service, path: string, query?: RequestOptions['query']): string {
    const base = service === 'core' ? `${this.config.coreUrl}/api/v1` : `${this.config.aiUrl}/api/ai`;
    return `${base}${path.startsWith('/') ? path : `/${path}`}${buildQuery(query)}`;
  }

  core<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('core', path, options);
  }

  ai<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('ai', path, options);
  }

  async request<T>(service: Service, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.url(service, path, options.query);
    const sentToken = options.auth === 'none' ? null : this.tokens.accessToken;
    let response = await this.send(url, options, sentToken);
    if (response.status === 401 && sentToken) {
      const fresh = await this.freshAccessToken(sentToken);
      if (fresh) response = await this.send(url, options, fresh);
    }
    return this.parse<T>(response);
  }

  /** A file route (an export or an image): the bytes as a Blob and the
   * name Content-Disposition gives (else `fallbackName`). The bearer token
   * goes with it (an `<a href>` could not send it), with the same refresh
   * on 401; an error answer is an ApiError as for any call. */
  async download(service: Service, path: string, options: RequestOptions & { fallbackName?: string } = {}): Promise<DownloadedFile> {
    const url = this.url(service, path, options.query);
    const sentToken = options.auth === 'none' ? null : this.tokens.accessToken;
    let response = await this.send(url, options, sentToken, '*/*');
    if (response.status === 401 && sentToken) {
      const fresh = await this.freshAccessToken(sentToken);
      if (fresh) response = await this.send(url, options, fresh, '*/*');
    }
    if (!response.ok) throw errorFromResponse(response.status, await readBody(response), response.headers);
    let blob: Blob;
    try {
      blob = await response.blob();
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError({ status: 0, code: NETWORK_ERROR, message: NETWORK_MESSAGE });
    }
    const filename = filenameFromDisposition(response.headers.get('Content-Disposition')) ?? options.fallbackName ?? 'download';
    return { blob, filename, contentType: response.headers.get('Content-Type') ?? blob.type };
  }

  /** A new access token now, so its claims follow a change (a new username
   * shows in the menu). Null when logged out or the refresh was refused. */
  async refreshAccess(): Promise<string | null> {
    const current = this.tokens.accessToken;
    return current ? this.freshAccessToken(current) : null;
  }

  /** A newer access token than `stale`: the current one if another call
   * refreshed meanwhile, else one shared refresh. Null: logged out. */
  private async freshAccessToken(stale: string): Promise<string | null> {
    const current = this.tokens.accessToken;
    if (current && current !== stale) return current;
    if (!this.refreshing) {
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refresh(): Promise<string | null> {
    const refreshToken = this.tokens.refreshToken;
    if (!refreshToken) {
      this.logout();
      return null;
    }
    // Offline (a network error is thrown): the session is kept.
    const response = await this.send(
      this.url('core', '/auth/refresh'),
      { method: 'POST', body: { refresh_token: refreshToken } },
      null,
    );
    if (!response.ok) {
      if (response.status >= 500 || response.status === 429) {
        throw errorFromResponse(response.status, await readBody(response), response.headers);
      }
      this.logout();
      return null;
    }
    const body = (await readBody(response)) as { access_token?: unknown } | null;
    if (!body || typeof body.access_token !== 'string') {
      this.logout();
      return null;
    }
    this.tokens.setAccess(body.access_token);
    return body.access_token;
  }

  private logout(): void {
    this.tokens.clear();
    this.onLogout?.();
  }

  private async send(url: string, options: RequestOptions, token: string | null, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    let body: BodyInit | undefined;
    if (options.form) {
      body = options.form;
    } else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetchImpl(url, {
        method: options.method ?? (body ? 'POST' : 'GET'),
        headers,
        body,
        signal: options.signal,
        credentials: 'omit',
      });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError({ status: 0, code: NETWORK_ERROR, message: NETWORK_MESSAGE });
    }
  }

  private async parse<T>(response: Response): Promise<T> {
    if (!response.ok) throw errorFromResponse(response.status, await readBody(response), response.headers);
    if (response.status === 204) return undefined as T;
    return (await readBody(response)) as T;
  }
}

export interface DownloadedFile {
  blob: Blob;
  filename: string;
  contentType: string;
}

/** The file name of a `Content-Disposition` header: `filename*=UTF-8''...`
 * first (RFC 6266), else `filename="..."`; only its last path part, and
 * null when there is none. */
export function filenameFromDisposition(header: string | null | undefined): string | null {
  if (!header) return null;
  let name: string | null = null;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (extended) {
    try {
      name = decodeURIComponent(extended[2].trim().replace(/^"|"$/g, ''));
    } catch {
      name = null;
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
    if (plain) name = (plain[1] ?? plain[2] ?? '').replace(/\\(.)/g, '$1').trim();
  }
  const base = name?.split(/[\\/]/).pop()?.trim();
  return base ? base : null;
}

async function readBody(response: Response): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError({ status: 0, code: NETWORK_ERROR, message: NETWORK_MESSAGE });
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function isAbort(error: unknown): boolean {
  return (
    (error instanceof DOMException && error.name === 'AbortError') ||
    (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError')
  );
}

/** A user-facing sentence for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}
