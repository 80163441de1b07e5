/** Every page renders against a fake backend (no crash, its main content
 * shows), the phone menu toggles, login stores the session, and the
 * staff-only page stays closed to readers. */

import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { ApiClient } from './lib/api';
import { makeApi } from './lib/endpoints';
import { generateTree } from './lib/treeLayout';
import { TokenStore } from './lib/tokens';
import { FakeEventSource } from './test/fakeEventSource';
import { novelFixture } from './test/fixtures';
import { jwt } from './test/harness';

const USER = '11111111-1111-4111-8111-111111111111';
const SCENARIO = '33333333-3333-4333-8333-333333333333';
const NOVEL = '44444444-4444-4444-8444-444444444444';

const page = (content: unknown[], extra: Record<string, unknown> = {}) => ({
  content,
  page: { number: 0, size: 20, total_elements: content.length, total_pages: 1, ...extra },
});

const scenario = {
  id: SCENARIO,
  base_story: 'pride-and-prejudice',
  novel_id: NOVEL,
  parent_scenario_id: null,
  parent: null,
  scenario_type: 'CHARACTER_CHANGE',
  parameters: { character: 'Elizabeth Bennet', property: 'personality', new_value: 'Shy' },
  quality_score: 0.42,
  creator_id: USER,
  creator: { id: USER, username: 'reader', avatar_url: null },
  fork_count: 2,
  conversation_count: 1,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

const novel = novelFixture();

const tree = { ...generateTree(40), id: SCENARIO, depth: 3, total_descendants: 39 };

function routes(path: string, method: string): unknown {
  const table: Array<[RegExp, unknown]> = [
    [/^\/api\/v1\/novels$/, page([novel])],
    [/^\/api\/v1\/novels\/[^/]+$/, novel],
    [/^\/api\/v1\/scenarios$/, page([scenario])],
    [/^\/api\/v1\/scenarios\/search$/, { ...page([{ ...scenario, relevance_score: 0.8 }], { total_is_estimate: true }), facets: { scenario_types: { CHARACTER_CHANGE: 1, EVENT_ALTERATION: 0, SETTING_MODIFICATION: 0 }, quality_ranges: { '0.8-1.0': 0, '0.6-0.8': 0, '0.4-0.6': 1, '0.0-0.4': 0 } }, matched_by: 'full_text' }],
    [/^\/api\/v1\/scenarios\/[^/]+\/ancestors$/, { scenario_id: SCENARIO, path: [{ id: 'root', depth: 0, is_deleted: false, scenario_type: 'EVENT_ALTERATION', parameters: { event: 'The ball' } }, { ...scenario, depth: 1 }] }],
    [/^\/api\/v1\/scenarios\/[^/]+\/fork-tree$/, tree],
    [/^\/api\/v1\/scenarios\/[^/]+\/forks$/, { parent: { id: SCENARIO, base_story: 'pride-and-prejudice', scenario_type: 'CHARACTER_CHANGE' }, forks: [], page: page([]).page }],
    [/^\/api\/v1\/scenarios\/[^/]+$/, scenario],
    [/^\/api\/v1\/conversations$/, page([])],
    [/^\/api\/v1\/users\/me\/liked-conversations$/, page([])],
    [/^\/api\/v1\/users\/me$/, { id: USER, email: 'reader@gaji.local', username: 'reader', bio: '', avatar_url: null, is_staff: false, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }],
    [/^\/api\/v1\/users\/me\/settings$/, { default_model: null, temperature: null, max_tokens: null, response_style: 'balanced', persona_name: '', default_visibility: 'public' }],
    [/^\/api\/v1\/users\/me\/messages\/search$/, page([])],
    [/^\/api\/ai\/models$/, { provider: 'local', default: 'qwen', models: ['qwen'] }],
    [/^\/api\/v1\/users\/[^/]+\/(followers|following)$/, page([{ id: 'f1', username: 'friend', avatar_url: null, is_mutual: true, followed_at: '2026-01-01T00:00:00Z' }])],
    [/^\/api\/v1\/users\/[^/]+\/is-following$/, { is_following: false, is_mutual: false, followed_at: null }],
    [/^\/api\/v1\/users\/[^/]+$/, { id: USER, username: 'reader', bio: 'Reads a lot.', avatar_url: null, follower_count: 1, following_count: 1, scenario_count: 1, conversation_count: 0, joined_at: '2026-01-01T00:00:00Z' }],
    [/^\/api\/ai\/novels\/[^/]+\/characters$/, [{ vectordb_id: 'c1', novel_id: NOVEL, name: 'Elizabeth Bennet', aliases: ['Lizzy'], description: 'The second daughter.', personality_traits: ['witty'], role: 'protagonist', first_chapter: 1, mention_count: 600 }]],
    [/^\/api\/ai\/novels\/jobs$/, null],
  ];
  if (method !== 'GET') return null;
  for (const [pattern, body] of table) if (pattern.test(path)) return body;
  return null;
}

function fakeFetch() {
  return vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    if (url.pathname === '/api/v1/auth/login') {
      return new Response(
        JSON.stringify({
          user: { id: USER, email: 'reader@gaji.local', username: 'reader', bio: '', avatar_url: null },
          tokens: { access_token: jwt({ sub: USER, username: 'reader', is_staff: false }), refresh_token: 'r', expires_in: 3600, token_type: 'Bearer' },
        }),
        { status: 200 },
      );
    }
    const body = routes(url.pathname, method);
    if (body === null) {
      return new Response(JSON.stringify({ status: 404, code: 'NOT_FOUND', message: 'Not found.', trace_id: 't', path: url.pathname, error: 'Not Found', timestamp: '' }), { status: 404 });
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  }) as unknown as typeof fetch;
}

function renderApp(hash: string, claims?: Record<string, unknown>) {
  window.location.hash = hash;
  const tokens = new TokenStore(localStorage);
  if (claims) tokens.set({ accessToken: jwt(claims), refreshToken: 'r' });
  const api = makeApi(new ApiClient({ config: { coreUrl: 'http://core.test', aiUrl: 'http://ai.test:8000' }, tokens, fetch: fakeFetch() }));
  return render(<App api={api} />);
}

const reader = { sub: USER, username: 'reader', is_staff: false };

beforeEach(() => {
  vi.stubGlobal('EventSource', FakeEventSource);
});

afterEach(() => {
  vi.unstubAllGlobals();
  window.location.hash = '';
});

describe('pages', () => {
  it('home', async () => {
    renderApp('#/');
    expect(await screen.findByRole('heading', { name: /what if the story went another way/i })).toBeInTheDocument();
    expect(await screen.findAllByTestId('scenario-card')).toHaveLength(1);
  });

  it('novels and a novel with its cast and passage search', async () => {
    renderApp('#/novels');
    expect(await screen.findByTestId('novel-card')).toHaveTextContent('Pride and Prejudice');
    act(() => {
      window.location.hash = '#/novels/pride-and-prejudice';
    });
    expect(await screen.findByRole('heading', { level: 1, name: 'Pride and Prejudice' })).toBeInTheDocument();
    expect(screen.getByText(/to see the cast/)).toBeInTheDocument(); // logged out
  });

  it('a novel, logged in: cast and search box', async () => {
    renderApp('#/novels/pride-and-prejudice', reader);
    expect(await screen.findByTestId('cast-member')).toHaveTextContent('Elizabeth Bennet');
    expect(screen.getByTestId('passage-query')).toBeInTheDocument();
  });

  it('scenario browse and search with facets and an estimated count', async () => {
    renderApp('#/scenarios');
    expect(await screen.findByTestId('scenario-card')).toBeInTheDocument();
    act(() => {
      window.location.hash = '#/search?q=darcy';
    });
    expect(await screen.findByTestId('result-count')).toHaveTextContent('about 1 result · matched by full text');
    expect(screen.getByTestId('facet-CHARACTER_CHANGE')).toHaveTextContent('1');
  });

  it('scenario detail with breadcrumb, tree and forms', async () => {
    renderApp(`#/scenarios/${SCENARIO}`, reader);
    expect(await screen.findByTestId('scenario-parameters')).toHaveTextContent('Elizabeth Bennet');
    expect(await screen.findByTestId('ancestors')).toBeInTheDocument();
    expect(await screen.findByTestId('fork-tree')).toBeInTheDocument();
    expect(screen.getAllByTestId('tree-node')).toHaveLength(40);
    await userEvent.click(screen.getByTestId('fork-button'));
    expect(document.getElementById('param-character')).toHaveValue('Elizabeth Bennet');
    expect(screen.getByTestId('start-conversation')).toBeInTheDocument();
  });

  it('profile with follow lists', async () => {
    renderApp('#/users/reader', reader);
    expect(await screen.findByRole('heading', { name: '@reader' })).toBeInTheDocument();
    expect(screen.getByTestId('bio-input')).toHaveValue('Reads a lot.'); // own profile: editable
    await userEvent.click(screen.getByRole('button', { name: /Followers/ }));
    expect(await screen.findByTestId('followers-list')).toHaveTextContent('@friend');
  });

  it('liked conversations need a session', async () => {
    renderApp('#/liked');
    expect(await screen.findByRole('heading', { name: 'Log in needed' })).toBeInTheDocument();
  });

  it('ingestion is staff only; staff see the jobs of this session when the server has no list', async () => {
    const first = renderApp('#/staff/ingest', reader);
    expect(await screen.findByRole('heading', { name: 'Staff only' })).toBeInTheDocument();
    first.unmount();
    renderApp('#/staff/ingest', { ...reader, is_staff: true });
    expect(await screen.findByText(/jobs started in this browser session/)).toBeInTheDocument();
    expect(screen.getByTestId('ingest-submit')).toBeInTheDocument();
  });

  it('logs in and shows the user in the menu; the phone menu toggles', async () => {
    const user = userEvent.setup();
    renderApp('#/login');
    await user.type(screen.getByLabelText('Email'), 'reader@gaji.local');
    await user.type(screen.getByLabelText('Password'), 'GajiReader123');
    await user.click(screen.getByTestId('login-submit'));
    await waitFor(() => expect(screen.getByTestId('nav-profile')).toHaveTextContent('@reader'));
    // Back where the reader came from (here: home); the menu closes on navigation.
    expect(await screen.findByRole('heading', { name: /what if the story went another way/i })).toBeInTheDocument();
    expect(JSON.parse(localStorage.getItem('gaji.auth')!).refreshToken).toBe('r');
    const toggle = screen.getByTestId('menu-toggle');
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
  });

  it('account, settings and message search, signed in; the menu links to them', async () => {
    renderApp('#/account', reader);
    expect(await screen.findByTestId('account-email')).toHaveTextContent('reader@gaji.local');
    expect(screen.getByTestId('nav-account')).toHaveAttribute('href', '#/account');
    expect(screen.getByTestId('nav-settings')).toHaveAttribute('href', '#/settings');
    expect(screen.getByTestId('notification-bell')).toBeInTheDocument();
    act(() => {
      window.location.hash = '#/settings';
    });
    expect(await screen.findByTestId('settings-form')).toBeInTheDocument();
    act(() => {
      window.location.hash = '#/search-messages?q=dance';
    });
    expect(await screen.findByText('No message matches “dance”.')).toBeInTheDocument();
  });

  it('my library loads on demand from the menu; signed out it asks for a session', async () => {
    renderApp('#/library', reader);
    expect(await screen.findByRole('heading', { name: 'My library' })).toBeInTheDocument();
    expect(screen.getByTestId('nav-library')).toHaveAttribute('href', '#/library');
    expect(screen.getByTestId('story-import')).toBeInTheDocument();
    cleanup();
    localStorage.clear();
    renderApp('#/library');
    expect(await screen.findByRole('heading', { name: 'Log in needed' })).toBeInTheDocument();
    expect(screen.queryByTestId('nav-library')).toBeNull();
  });

  it('forgot and reset password pages; no bell when signed out', async () => {
    renderApp('#/forgot-password');
    expect(await screen.findByRole('heading', { name: 'Reset your password' })).toBeInTheDocument();
    expect(screen.queryByTestId('notification-bell')).toBeNull();
    act(() => {
      window.location.hash = '#/reset-password?uid=MQ&token=t-1';
    });
    expect(await screen.findByRole('heading', { name: 'Choose a new password' })).toBeInTheDocument();
    expect(screen.getByTestId('reset-submit')).toBeInTheDocument();
  });

  it('unknown routes say so', async () => {
    renderApp('#/nowhere');
    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeInTheDocument();
  });
});
