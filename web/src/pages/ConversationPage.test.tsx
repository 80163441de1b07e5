import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../lib/api';
import { makeApi } from '../lib/endpoints';
import { SessionProvider } from '../lib/session';
import { streamStorageKey, writePersistedStream } from '../lib/stream';
import { TokenStore } from '../lib/tokens';
import type { ChatMessage, Conversation } from '../lib/types';
import { FakeEventSource } from '../test/fakeEventSource';
import { ConversationPage } from './ConversationPage';

const OWNER = '11111111-1111-4111-8111-111111111111';
const CONV = '22222222-2222-4222-8222-222222222222';
const SCENARIO = '33333333-3333-4333-8333-333333333333';
const AI = 'http://ai.test:8000';
const streamUrl = (mid: string, ticket = 'T1') => `${AI}/api/ai/conversations/${CONV}/stream?message_id=${mid}&ticket=${ticket}`;
const future = () => new Date(Date.now() + 5 * 60_000).toISOString();

function jwt(claims: Record<string, unknown>): string {
  const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'RS256' })}.${b64(claims)}.signature`;
}

function conversation(messages: ChatMessage[]): Conversation {
  return {
    id: CONV,
    title: 'Tea at Netherfield',
    parent_conversation_id: null,
    is_fork: false,
    scenario_id: SCENARIO,
    user_id: OWNER,
    scenario: {
      id: SCENARIO,
      base_story: 'pride-and-prejudice',
      scenario_type: 'CHARACTER_CHANGE',
      parameters: { character: 'Elizabeth Bennet', property: 'personality', new_value: 'Shy' },
      is_deleted: false,
    },
    user: { id: OWNER, username: 'reader', avatar_url: null },
    like_count: 2,
    message_count: messages.length,
    messages,
    messages_truncated: false,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

interface Request {
  method: string;
  path: string;
  body: unknown;
}

function backend(initial: ChatMessage[]) {
  const state = { messages: [...initial], liked: false, likes: 2, memo: null as null | string };
  const requests: Request[] = [];
  let turn = 0;
  const json = (status: number, body: unknown) =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  const notFound = () => json(404, { status: 404, code: 'NOT_FOUND', message: 'Not found', trace_id: 't', path: '', error: 'Not Found', timestamp: '' });

  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const path = url.pathname.replace('/api/v1', '').replace('/api/ai', '/ai');
    requests.push({ method, path, body });
    const base = `/conversations/${CONV}`;
    if (method === 'GET' && path === base) return json(200, conversation(state.messages));
    if (method === 'GET' && path === `/scenarios/${SCENARIO}`) return json(200, { id: SCENARIO, novel_id: null });
    if (method === 'GET' && path === `${base}/liked`) return json(200, { is_liked: state.liked, liked_at: null });
    if (method === 'POST' && path === `${base}/like`) {
      state.liked = true;
      state.likes += 1;
      return json(200, { total_likes: state.likes, liked_at: '2026-01-02T00:00:00Z' });
    }
    if (method === 'GET' && path === `${base}/memo`) return state.memo ? json(200, { memo_text: state.memo, created_at: '', updated_at: '' }) : notFound();
    if (method === 'POST' && path === `${base}/memo`) {
      state.memo = (body as { memo_text: string }).memo_text;
      return json(201, { memo_text: state.memo, created_at: '2026-01-02T00:00:00Z', updated_at: '2026-01-02T00:00:00Z' });
    }
    if (method === 'GET' && path === `${base}/tree`)
      return json(200, { id: CONV, title: 'Tea at Netherfield', children: [], depth: 0, total_descendants: 0, user: { id: OWNER, username: 'reader' } });
    if (method === 'POST' && path === `${base}/messages`) {
      turn += 1;
      const mid = `aaaaaaaa-0000-4000-8000-00000000000${turn}`;
      return json(202, { message_id: `uuuuuuuu-0000-4000-8000-00000000000${turn}`, assistant_message_id: mid, stream_url: streamUrl(mid), stream_expires_at: future() });
    }
    const regenerate = new RegExp(`^${base}/messages/([^/]+)/regenerate$`).exec(path);
    if (method === 'POST' && regenerate) return json(202, { message_id: 'x', assistant_message_id: regenerate[1], stream_url: streamUrl(regenerate[1], 'T9'), stream_expires_at: future() });
    const cancel = new RegExp(`^${base}/messages/([^/]+)/cancel$`).exec(path);
    if (method === 'POST' && cancel) return json(202, { message_id: cancel[1], status: 'streaming', cancel_requested: true });
    return notFound();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, requests, state };
}

function renderPage(initial: ChatMessage[]) {
  const server = backend(initial);
  const tokens = new TokenStore(localStorage);
  tokens.set({ accessToken: jwt({ sub: OWNER, username: 'reader', is_staff: false }), refreshToken: 'r' });
  const api = makeApi(new ApiClient({ config: { coreUrl: 'http://core.test', aiUrl: AI }, tokens, fetch: server.fetch }));
  render(
    <MemoryRouter initialEntries={[`/conversations/${CONV}`]}>
      <SessionProvider api={api}>
        <Routes>
          <Route path="/conversations/:id" element={<ConversationPage />} />
        </Routes>
      </SessionProvider>
    </MemoryRouter>,
  );
  return server;
}

const history: ChatMessage[] = [
  { id: 'm-user-1', role: 'user', content: 'Good evening, Miss Bennet.', status: 'completed' },
  { id: 'm-asst-1', role: 'assistant', content: 'Good evening.', status: 'completed', grounded: true },
];

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal('EventSource', FakeEventSource);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<ConversationPage>', () => {
  it('sends a message and streams the answer to its end', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    const input = await screen.findByTestId('message-input');
    await user.type(input, 'Do you dance, Mr. Darcy?');
    await user.click(screen.getByTestId('send-button'));

    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    expect(es.url).toBe(streamUrl('aaaaaaaa-0000-4000-8000-000000000001'));
    expect(server.requests.find((r) => r.method === 'POST' && r.path.endsWith('/messages'))?.body).toEqual({ content: 'Do you dance, Mr. Darcy?' });
    expect(screen.getByText('Do you dance, Mr. Darcy?')).toBeInTheDocument();
    const answers = () => screen.getAllByTestId('assistant-message');
    expect(answers()[1]).toHaveAttribute('data-status', 'pending');
    expect(screen.getByTestId('send-button')).toBeDisabled();
    expect(screen.getByTestId('stop-button')).toBeInTheDocument();

    act(() => {
      es.chunk('1700000000000-0', 'Not ');
      es.chunk('1700000000000-1', 'if I can help it.');
    });
    expect(answers()[1]).toHaveAttribute('data-status', 'streaming');
    expect(answers()[1]).toHaveTextContent('Not if I can help it.');
    expect(JSON.parse(sessionStorage.getItem(streamStorageKey(CONV))!)).toMatchObject({ last_event_id: '1700000000000-1' });

    act(() => es.emit('message_complete', { content: 'Not if I can help it.', status: 'completed', grounded: true }, '1700000000000-2'));
    expect(answers()[1]).toHaveAttribute('data-status', 'completed');
    expect(within(answers()[1]).getByText('grounded')).toBeInTheDocument();
    expect(es.closed).toBe(true);
    expect(sessionStorage.getItem(streamStorageKey(CONV))).toBeNull();
    expect(screen.queryByTestId('stop-button')).toBeNull();
    expect(input).toHaveValue('');
  });

  it('shows the sources an answer cites, from the stream and from the history', async () => {
    const user = userEvent.setup();
    const cited: ChatMessage = {
      id: 'm-asst-1',
      role: 'assistant',
      content: 'Good evening.',
      status: 'completed',
      grounded: true,
      citations: [{ passage_id: 'p-0', chapter: 1, chapter_title: '', chunk_index: 0, quote: 'It is a truth universally acknowledged…' }],
    };
    renderPage([history[0], cited]);
    const first = await screen.findByTestId('assistant-message');
    expect(within(first).getByTestId('source')).toHaveTextContent('Ch. 1: “It is a truth universally acknowledged…”');

    await user.type(screen.getByTestId('message-input'), 'Would you marry for comfort?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    const answer = () => screen.getAllByTestId('assistant-message')[1];
    act(() => es.chunk('1-0', 'Only a comfortable home.'));
    expect(within(answer()).queryByTestId('sources')).toBeNull(); // not while it streams
    const citations = [
      { passage_id: 'p-22', chapter: 22, chapter_title: 'Chapter 22', chunk_index: 388, quote: 'I am not romantic, you know; I never was…' },
      { passage_id: 'p-6', chapter: 6, chapter_title: 'Chapter 6', chunk_index: 101, quote: 'Happiness in marriage is entirely a matter of chance.' },
    ];
    act(() => es.emit('message_complete', { content: 'Only a comfortable home.', status: 'completed', grounded: true, citations }, '1-1'));
    const sources = within(answer()).getByTestId('sources');
    expect(within(sources).getByText('Sources')).toBeInTheDocument();
    expect(within(sources).getAllByTestId('source').map((li) => li.textContent)).toEqual([
      'Ch. 22 — Chapter 22: “I am not romantic, you know; I never was…”',
      'Ch. 6 — Chapter 6: “Happiness in marriage is entirely a matter of chance.”',
    ]);
  });

  it('shows no sources for an answer without grounding', async () => {
    const user = userEvent.setup();
    renderPage(history);
    await user.type(await screen.findByTestId('message-input'), 'Hello?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    act(() => FakeEventSource.last.emit('message_complete', { content: 'Hello.', status: 'completed', grounded: false, citations: [] }, '1-0'));
    expect(screen.getAllByTestId('assistant-message')[1]).toHaveAttribute('data-status', 'completed');
    expect(screen.queryByTestId('sources')).toBeNull();
  });

  it('stops an answer with the Stop button', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    await user.type(await screen.findByTestId('message-input'), 'Tell me a long story');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    act(() => FakeEventSource.last.chunk('1-0', 'Once upon'));
    await user.click(screen.getByTestId('stop-button'));
    await waitFor(() => expect(server.requests.some((r) => r.path.endsWith('/cancel'))).toBe(true));
    act(() => FakeEventSource.last.emit('message_complete', { content: 'Once upon', status: 'cancelled' }, '1-1'));
    const answer = screen.getAllByTestId('assistant-message')[1];
    expect(answer).toHaveAttribute('data-status', 'cancelled');
    expect(screen.getByTestId('regenerate-button')).toBeInTheDocument();
  });

  it('after a reload mid-answer, reopens the stream from the start and rebuilds the text', async () => {
    const mid = 'bbbbbbbb-0000-4000-8000-000000000001';
    writePersistedStream(CONV, { assistant_message_id: mid, stream_url: streamUrl(mid), stream_expires_at: future(), last_event_id: '1-1', text: 'It is a tr' });
    renderPage([...history, { id: 'm-user-2', role: 'user', content: 'Go on', status: 'completed' }, { id: mid, role: 'assistant', content: '', status: 'streaming' }]);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    expect(es.url).toBe(streamUrl(mid)); // from the start: no last_event_id
    const answer = () => screen.getAllByTestId('assistant-message')[1];
    expect(answer()).toHaveTextContent('It is a tr');
    act(() => {
      es.chunk('1-0', 'It is ');
      es.chunk('1-1', 'a tr');
      es.chunk('1-2', 'uth.');
    });
    expect(within(answer()).getByTestId('message-content').textContent?.trim()).toBe('It is a truth.');
    expect(answer().textContent).not.toContain('It is a trIt is');
  });

  it('forgets a saved stream whose answer has already ended', async () => {
    writePersistedStream(CONV, { assistant_message_id: 'm-asst-1', stream_url: streamUrl('m-asst-1'), stream_expires_at: future(), last_event_id: null, text: '' });
    renderPage(history);
    await screen.findByTestId('message-input');
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(sessionStorage.getItem(streamStorageKey(CONV))).toBeNull();
  });

  it('regenerates a failed answer', async () => {
    const user = userEvent.setup();
    const server = renderPage([history[0], { id: 'm-failed', role: 'assistant', content: '', status: 'failed' }]);
    const answer = await screen.findByTestId('assistant-message');
    expect(answer).toHaveAttribute('data-status', 'failed');
    await user.click(screen.getByTestId('regenerate-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(server.requests.some((r) => r.method === 'POST' && r.path.endsWith('/messages/m-failed/regenerate'))).toBe(true);
    expect(FakeEventSource.last.url).toContain('ticket=T9');
    expect(screen.getByTestId('assistant-message')).toHaveAttribute('data-status', 'pending');
    act(() => FakeEventSource.last.emit('message_complete', { content: 'A second try.', status: 'completed' }, '2-0'));
    expect(screen.getByTestId('assistant-message')).toHaveAttribute('data-status', 'completed');
    expect(screen.getByTestId('assistant-message')).toHaveTextContent('A second try.');
  });

  it('likes the conversation and keeps a private memo', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    const like = await screen.findByTestId('like-button');
    await waitFor(() => expect(like).toBeEnabled());
    await user.click(like);
    await waitFor(() => expect(screen.getByTestId('like-count')).toHaveTextContent('3 likes'));
    expect(like).toHaveAttribute('aria-pressed', 'true');

    const memo = await screen.findByTestId('memo-input');
    await user.type(memo, 'Check **chapter 3** <img src=x onerror=alert(1)>');
    await user.click(screen.getByTestId('memo-save'));
    await waitFor(() => expect(screen.getByTestId('memo-preview')).toBeInTheDocument());
    expect(server.state.memo).toBe('Check **chapter 3** <img src=x onerror=alert(1)>');
    const preview = screen.getByTestId('memo-preview');
    expect(preview.querySelector('strong')).toHaveTextContent('chapter 3');
    expect(preview.querySelector('img')).toBeNull();
  });
});
