/** Where the two services are. Core serves the built app and a generated
 * `config.json` next to index.html; without it (a dev server, a static
 * copy) core is this page's origin and ai the same host on port 8000. */

export interface RuntimeConfig {
  coreUrl: string;
  aiUrl: string;
}

export function defaultConfig(location: Pick<Location, 'origin' | 'protocol' | 'hostname'> = window.location): RuntimeConfig {
  return {
    coreUrl: location.origin,
    aiUrl: `${location.protocol}//${location.hostname}:8000`,
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !value) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Fetches `./config.json` (relative to index.html); any failure, or a
 * field that is not an http(s) URL, falls back to the defaults. */
export async function loadConfig(
  fetchImpl: typeof fetch = fetch,
  location: Pick<Location, 'origin' | 'protocol' | 'hostname'> = window.location,
): Promise<RuntimeConfig> {
  const fallback = defaultConfig(location);
  try {
    const response = await fetchImpl('./config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok) return fallback;
    const body: unknown = await response.json();
    if (!body || typeof body !== 'object') return fallback;
    const { core_url: core, ai_url: ai } = body as Record<string, unknown>;
    return {
      coreUrl: trimSlash(isHttpUrl(core) ? core : fallback.coreUrl),
      aiUrl: trimSlash(isHttpUrl(ai) ? ai : fallback.aiUrl),
    };
  } catch {
    return fallback;
  }
}
