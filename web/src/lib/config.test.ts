import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from './config';

const location = { origin: 'http://reader.test:8080', protocol: 'http:', hostname: 'reader.test' };

describe('loadConfig', () => {
  it('reads ./config.json', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ core_url: 'https://core.example/', ai_url: 'https://ai.example' })));
    await expect(loadConfig(fetch as unknown as typeof globalThis.fetch, location)).resolves.toEqual({
      coreUrl: 'https://core.example',
      aiUrl: 'https://ai.example',
    });
    expect(fetch).toHaveBeenCalledWith('./config.json', expect.anything());
  });

  it('falls back to this origin and port 8000 when it is missing or wrong', async () => {
    const expected = { coreUrl: 'http://reader.test:8080', aiUrl: 'http://reader.test:8000' };
    const missing = vi.fn(async () => new Response('not found', { status: 404 }));
    await expect(loadConfig(missing as unknown as typeof fetch, location)).resolves.toEqual(expected);
    const offline = vi.fn(async () => {
      throw new TypeError('offline');
    });
    await expect(loadConfig(offline as unknown as typeof fetch, location)).resolves.toEqual(expected);
    const bad = vi.fn(async () => new Response(JSON.stringify({ core_url: 'javascript:alert(1)', ai_url: 42 })));
    await expect(loadConfig(bad as unknown as typeof fetch, location)).resolves.toEqual(expected);
  });
});
