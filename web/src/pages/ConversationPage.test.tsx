import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../lib/api';
import { makeApi } from '../lib/endpoints';
import { SessionProvider } from '../lib/session';
import { streamStorageKey, writePersistedStream } from '../lib/stream';
import { TokenStore } from '../lib/tokens';
import type { Alternatives, Cast, ChatMessage, Conversation, MessagePrompt, MessageSpeaker, Visibility } from '../lib/types';
import { FakeEventSource } from '../test/fakeEventSource';
import { conversationFixture } from '../test/fixtures';
import { jwt } from '../test/harness';
import { ConversationPage } from './ConversationPage';

const OWNER = '11111111-1111-4111-8111-111111111111';
const CONV = '22222222-2222-4222-8222-222222222222';
const SCENARIO = '33333333-3333-4333-8333-333333333333';
const AI = 'http://ai.test:8000';
const streamUrl = (mid: string, ticket = 'T1') => `${AI}/api/ai/conversations/${CONV}/stream?message_id=${mid}&ticket=${ticket}`;
const future = () => new Date(Date.now() + 5 * 60_000).toISOString();

function conversation(messages: ChatMessage[], visibility: Visibility = 'public'): Conversation {
  return conversationFixture({ owner: OWNER, messages, visibility, likes: 2 });
}

interface Request {
  method: string;
  path: string;
  body: unknown;
  query?: URLSearchParams;
}

const ELIZABETH: MessageSpeaker = { kind: 'character', character_id: 'c-eliza', name: 'Elizabeth Bennet' };
const DARCY: MessageSpeaker = { kind: 'character', character_id: 'c-darcy', name: 'Mr. Darcy' };
const NARRATOR: MessageSpeaker = { kind: 'narrator', character_id: null, name: 'Narrator' };
const NOVEL = '44444444-4444-4444-8444-444444444444';
const VIEWER = '55555555-5555-4555-8555-555555555555';

interface Options {
  /** The speakers of the next turns' answers (default: Elizabeth alone). */
  speakers?: MessageSpeaker[];
  cast?: Cast;
  prompts?: Record<string, MessagePrompt>;
  novelId?: string | null;
  /** Answers whose cancel is refused with 409 (ended meanwhile). */
  endedAnswers?: string[];
  visibility?: Visibility;
  /** The versions of answers, by message id. */
  alternatives?: Record<string, Alternatives>;
  /** Edits and deletes copy the message and its answers first (rows a fork shares), as `<id>-own`. */
  copyOnWrite?: boolean;
  /** Search hits of the conversation's search route. */
  searchHits?: { message: ChatMessage; position: number; snippet: string }[];
}

function backend(initial: ChatMessage[], options: Options = {}) {
  const state = {
    messages: initial.map((m) => ({ ...m })),
    liked: false,
    likes: 2,
    memo: null as null | string,
    /** The memory's entries (world facts), by text. */
    memory: [] as string[],
    cast: options.cast ?? { narrator: false, members: [{ character_id: 'c-eliza', name: 'Elizabeth Bennet', talkativeness: 0.5 }] },
    visibility: options.visibility ?? ('public' as Visibility),
  };
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
    requests.push({ method, path, body, query: url.searchParams });
    const base = `/conversations/${CONV}`;
    if (method === 'GET' && path === base) return json(200, conversation(state.messages, state.visibility));
    if (method === 'PUT' && path === base) {
      const change = body as { visibility?: Visibility };
      if (change.visibility && !['private', 'unlisted', 'public'].includes(change.visibility)) {
        return json(400, { status: 400, code: 'VALIDATION_ERROR', message: 'Invalid input.', details: { visibility: ['Not a choice.'] }, trace_id: 't', path, error: '', timestamp: '' });
      }
      state.visibility = change.visibility ?? state.visibility;
      return json(200, { id: CONV, title: 'Tea at Netherfield', visibility: state.visibility, updated_at: '2026-01-02T00:00:00Z' });
    }
    if (method === 'POST' && path === `${base}/fork`) return json(201, { ...conversation([]), id: 'forked-conv' });
    if (method === 'GET' && path === `${base}/messages/search`) {
      const hits = options.searchHits ?? [];
      return json(200, { content: hits, page: { number: 0, size: 10, total_elements: hits.length, total_pages: hits.length ? 1 : 0 } });
    }
    if (method === 'GET' && path === `${base}/messages`) {
      const size = Number(url.searchParams.get('size') ?? 20);
      const after = url.searchParams.get('after');
      const start = after ? state.messages.findIndex((m) => m.id === after) + 1 : Number(url.searchParams.get('page') ?? 0) * size;
      const content = state.messages.slice(start, start + size).map((m) => ({ ...m }));
      return json(200, { content, cursors: { older: null, newer: null } });
    }
    /** The message and the answers after it up to the next of the reader's (their own copies first). */
    const revised = (messageId: string) => {
      let index = state.messages.findIndex((m) => m.id === messageId);
      if (index < 0 || state.messages[index].role !== 'user') return null;
      const answers: ChatMessage[] = [];
      for (let k = index + 1; k < state.messages.length && state.messages[k].role === 'assistant'; k += 1) answers.push(state.messages[k]);
      if (options.copyOnWrite) {
        state.messages = state.messages.map((m) => (m.id === messageId || answers.includes(m) ? { ...m, id: `${m.id}-own` } : m));
        index = state.messages.findIndex((m) => m.id === `${messageId}-own`);
        return { message: state.messages[index], answers: state.messages.slice(index + 1, index + 1 + answers.length) };
      }
      return { message: state.messages[index], answers };
    };
    const revise = new RegExp(`^${base}/messages/([^/]+)$`).exec(path);
    if (revise && method === 'PATCH') {
      const edit = body as { content: string; regenerate?: boolean };
      const found = revised(revise[1]);
      if (!found) return notFound();
      const { message, answers } = found;
      Object.assign(message, { content: edit.content, edited_at: '2026-01-03T00:00:00Z' });
      for (const a of answers) a.stale = true;
      const turn = edit.regenerate
        ? { message_id: message.id, assistant_message_id: answers[0].id, answers: answers.map((a) => ({ message_id: a.id, speaker: ELIZABETH })), stream_url: streamUrl(answers[0].id, 'T7'), stream_expires_at: future() }
        : null;
      return json(200, { message: { ...message }, turn });
    }
    if (revise && method === 'DELETE') {
      const found = revised(revise[1]);
      if (!found) return notFound();
      Object.assign(found.message, { deleted: true, content: '' });
      for (const a of found.answers) a.stale = true;
      return new Response(null, { status: 204 });
    }
    const alternatives = new RegExp(`^${base}/messages/([^/]+)/alternatives$`).exec(path);
    if (alternatives && method === 'GET') return options.alternatives?.[alternatives[1]] ? json(200, options.alternatives[alternatives[1]]) : notFound();
    if (alternatives && method === 'PUT') {
      const { index } = body as { index: number };
      const message = state.messages.find((m) => m.id === alternatives[1])!;
      const item = options.alternatives![alternatives[1]].items[index];
      Object.assign(message, { content: item.content, chosen: index });
      return json(200, { ...message });
    }
    if (method === 'GET' && path === `/scenarios/${SCENARIO}`) return json(200, { id: SCENARIO, novel_id: options.novelId ?? null });
    if (method === 'GET' && path === `/scenarios/${SCENARIO}/timeline`) return json(200, TIMELINE);
    if (method === 'GET' && path === `/ai/novels/${NOVEL}/characters`) return json(200, CHARACTERS);
    if (method === 'GET' && path === `${base}/cast`) return json(200, state.cast);
    if (method === 'PUT' && path === `${base}/cast`) {
      const cast = body as Cast;
      const unknown = cast.members.findIndex((m) => m.character_id === 'c-unknown');
      if (unknown >= 0) {
        return json(400, {
          status: 400,
          code: 'VALIDATION_ERROR',
          message: 'Unknown character.',
          details: { [`members.${unknown}.character_id`]: ['Not a character of this novel.'] },
          trace_id: 't',
          path,
          error: 'Bad Request',
          timestamp: '',
        });
      }
      state.cast = cast;
      return json(200, cast);
    }
    const prompt = new RegExp(`^${base}/messages/([^/]+)/prompt$`).exec(path);
    if (method === 'GET' && prompt) return options.prompts?.[prompt[1]] ? json(200, options.prompts[prompt[1]]) : notFound();
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
    if (method === 'GET' && path === `${base}/memory`) {
      const content = state.memory.map((text, i) => ({
        id: `e-${i}`, kind: 'fact', subject: 'world', target: '', text, value: null, trend: null, history: [], source: 'model',
        source_message_id: null, pinned: false, known_by: null, layer: 0, covers_from: null, covers_to: null, covered: false,
        inherited: false, position: i, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
      }));
      return json(200, { content, page: { number: 0, size: 100, total_elements: content.length, total_pages: 1 }, canon_chapter: null, characters: [] });
    }
    if (method === 'GET' && path === `${base}/tree`)
      return json(200, { id: CONV, title: 'Tea at Netherfield', children: [], depth: 0, total_descendants: 0, user: { id: OWNER, username: 'reader' } });
    if (method === 'POST' && (path === `${base}/messages` || path === `${base}/continue`)) {
      turn += 1;
      const answers = (options.speakers ?? [ELIZABETH]).map((speaker, k) => ({ message_id: `aaaaaaaa-000${k}-4000-8000-00000000000${turn}`, speaker }));
      const mid = answers[0].message_id;
      const userMessage = path.endsWith('/continue') ? null : `uuuuuuuu-0000-4000-8000-00000000000${turn}`;
      return json(202, { message_id: userMessage, assistant_message_id: mid, answers, stream_url: streamUrl(mid), stream_expires_at: future() });
    }
    const regenerate = new RegExp(`^${base}/messages/([^/]+)/regenerate$`).exec(path);
    if (method === 'POST' && regenerate) return json(202, { message_id: 'x', assistant_message_id: regenerate[1], stream_url: streamUrl(regenerate[1], 'T9'), stream_expires_at: future() });
    const cancel = new RegExp(`^${base}/messages/([^/]+)/cancel$`).exec(path);
    if (method === 'POST' && cancel && options.endedAnswers?.includes(cancel[1]))
      return json(409, { status: 409, code: 'CONFLICT', message: 'This answer has already ended.', trace_id: 't', path, error: 'Conflict', timestamp: '' });
    if (method === 'POST' && cancel) return json(202, { message_id: cancel[1], status: 'streaming', cancel_requested: true });
    return notFound();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, requests, state };
}

function renderPage(initial: ChatMessage[], options: Options & { as?: string } = {}) {
  const server = backend(initial, options);
  const tokens = new TokenStore(localStorage);
  const as = options.as ?? OWNER;
  tokens.set({ accessToken: jwt({ sub: as, username: as === OWNER ? 'reader' : 'visitor', is_staff: false }), refreshToken: 'r' });
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

const TIMELINE = {
  scenario_id: SCENARIO,
  total_steps: 2,
  steps: [],
  condensed_steps: 0,
  counted_steps: 0,
  brief: 'What changed in this telling, oldest first:\n1. Elizabeth Bennet is shy.',
  brief_tokens: 17,
};

const CHARACTERS = [
  { id: 'c-eliza', vectordb_id: 'c-eliza', novel_id: NOVEL, name: 'Elizabeth Bennet', aliases: [], description: '', personality_traits: [], role: 'main' },
  { id: 'c-darcy', vectordb_id: 'c-darcy', novel_id: NOVEL, name: 'Mr. Darcy', aliases: [], description: '', personality_traits: [], role: 'main' },
];

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
    expect(within(answer).getByTestId('regenerate-button')).toBeInTheDocument();
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
    // Forgotten by an effect once the history is read: wait for it, not for a render.
    await waitFor(() => expect(sessionStorage.getItem(streamStorageKey(CONV))).toBeNull());
    expect(FakeEventSource.instances).toHaveLength(0);
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

  it('shows who said each message, from the history and while an answer streams', async () => {
    const user = userEvent.setup();
    renderPage([
      { id: 'm-user-1', role: 'user', content: 'Hello.', status: 'completed', speaker: { kind: 'user', character_id: null, name: 'reader' } },
      { id: 'm-asst-1', role: 'assistant', content: 'Good evening.', status: 'completed', speaker: DARCY },
      { id: 'm-asst-2', role: 'assistant', content: 'The fire crackled.', status: 'completed', speaker: NARRATOR },
    ]);
    const names = () => screen.getAllByTestId('speaker-name').map((n) => n.textContent);
    await waitFor(() => expect(names()).toEqual(['Mr. Darcy', 'Narrator']));
    expect(within(screen.getByTestId('user-message')).getByText('You')).toBeInTheDocument();
    expect(screen.queryByText('Story')).toBeNull();

    await user.type(screen.getByTestId('message-input'), 'And you, Miss Bennet?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(names()).toEqual(['Mr. Darcy', 'Narrator', 'Elizabeth Bennet']);
    const answer = () => screen.getAllByTestId('assistant-message')[2];
    act(() => FakeEventSource.last.emit('message_chunk', { content: 'I am', delta: 'I am', message_id: 'aaaaaaaa-0000-4000-8000-000000000001', speaker: ELIZABETH }, '1-0'));
    expect(within(answer()).getByTestId('message-status')).toHaveTextContent('Elizabeth Bennet is speaking…');
  });

  it('shows every answer of a turn at once and streams them one after another in one stream', async () => {
    const user = userEvent.setup();
    renderPage(history, { speakers: [DARCY, ELIZABETH, NARRATOR] });
    await user.type(await screen.findByTestId('message-input'), 'Shall we dance?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const [A1, A2, A3] = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0001-4000-8000-000000000001', 'aaaaaaaa-0002-4000-8000-000000000001'];
    const es = FakeEventSource.last;
    const item = (mid: string) => document.querySelector(`[data-testid="assistant-message"][data-id="${mid}"]`) as HTMLElement;
    // Three placeholders, named, before any event arrived; one stream for all.
    expect(screen.getAllByTestId('assistant-message')).toHaveLength(4);
    expect([A1, A2, A3].map((mid) => within(item(mid)).getByTestId('speaker-name').textContent)).toEqual(['Mr. Darcy', 'Elizabeth Bennet', 'Narrator']);
    expect([A1, A2, A3].map((mid) => item(mid).getAttribute('data-status'))).toEqual(['pending', 'pending', 'pending']);
    expect(within(item(A2)).getByTestId('message-status')).toHaveTextContent('Waiting for Elizabeth Bennet…');
    expect(screen.getAllByTestId('stop-button')).toHaveLength(1); // one Stop for the whole turn

    act(() => {
      es.emit('message_chunk', { content: 'If you', delta: 'If you', message_id: A1, speaker: DARCY }, '1-0');
      es.emit('message_chunk', { content: 'If you wish.', delta: ' wish.', message_id: A1, speaker: DARCY }, '1-1');
    });
    expect(within(item(A1)).getByTestId('message-status')).toHaveTextContent('Mr. Darcy is speaking…');
    expect(item(A1)).toHaveTextContent('If you wish.');
    act(() => es.emit('message_complete', { message_id: A1, speaker: DARCY, more: true, content: 'If you wish.', status: 'completed', citations: [] }, '1-2'));
    expect(item(A1)).toHaveAttribute('data-status', 'completed');
    expect(es.closed).toBe(false);
    expect(screen.getByTestId('send-button')).toBeDisabled(); // the turn goes on

    act(() => es.emit('message_chunk', { content: 'Gladly.', delta: 'Gladly.', message_id: A2, speaker: ELIZABETH }, '1-3'));
    expect(item(A2)).toHaveTextContent('Gladly.');
    expect(item(A1)).not.toHaveTextContent('Gladly.');
    expect(within(item(A2)).getByTestId('message-status')).toHaveTextContent('Elizabeth Bennet is speaking…');
    act(() => {
      es.emit('message_complete', { message_id: A2, speaker: ELIZABETH, more: true, content: 'Gladly.', status: 'completed', citations: [] }, '1-4');
      es.emit('message_chunk', { content: 'They danced.', delta: 'They danced.', message_id: A3, speaker: NARRATOR }, '1-5');
      es.emit('message_complete', { message_id: A3, speaker: NARRATOR, more: false, content: 'They danced.', status: 'completed', citations: [] }, '1-6');
    });
    expect([A1, A2, A3].map((mid) => item(mid).getAttribute('data-status'))).toEqual(['completed', 'completed', 'completed']);
    expect(item(A3)).toHaveTextContent('They danced.');
    expect(es.closed).toBe(true);
    expect(sessionStorage.getItem(streamStorageKey(CONV))).toBeNull();
    expect(screen.queryByTestId('stop-button')).toBeNull();
  });

  it('lets the owner pick who answers, in the order picked, at most three', async () => {
    const user = userEvent.setup();
    const cast: Cast = {
      narrator: true,
      members: [
        { character_id: 'c-eliza', name: 'Elizabeth Bennet', talkativeness: 0.5 },
        { character_id: 'c-darcy', name: 'Mr. Darcy', talkativeness: 0.2 },
        { character_id: null, name: 'A footman', talkativeness: 0.1 },
      ],
    };
    const server = renderPage(history, { cast });
    const box = (name: string) => screen.getByRole('checkbox', { name });
    await waitFor(() => expect(box('Mr. Darcy')).toBeInTheDocument());
    expect(screen.getByTestId('speakers-help')).toHaveTextContent('the scene decides');
    await user.click(box('Narrator'));
    await user.click(box('A footman'));
    await user.click(box('Mr. Darcy'));
    expect(box('Elizabeth Bennet')).toBeDisabled(); // three picked
    expect(screen.getByTestId('speakers-help')).toHaveTextContent('Answering: Narrator, then A footman, then Mr. Darcy.');
    await user.click(box('A footman')); // unpicked: the rest keep their order
    expect(box('Elizabeth Bennet')).toBeEnabled();
    await user.click(box('Elizabeth Bennet'));
    await user.type(screen.getByTestId('message-input'), 'Who goes first?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(server.requests.some((r) => r.method === 'POST' && r.path.endsWith('/messages'))).toBe(true));
    expect(server.requests.find((r) => r.method === 'POST' && r.path.endsWith('/messages'))?.body).toEqual({
      content: 'Who goes first?',
      speakers: [{ kind: 'narrator' }, { kind: 'character', character_id: 'c-darcy' }, { kind: 'character', character_id: 'c-eliza' }],
    });
  });

  it('continues the scene without a message of the reader', async () => {
    const user = userEvent.setup();
    const server = renderPage(history, { speakers: [DARCY, NARRATOR] });
    const button = await screen.findByTestId('continue-button');
    await user.click(button);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(server.requests.find((r) => r.method === 'POST' && r.path.endsWith('/continue'))?.body).toEqual({});
    expect(screen.getAllByTestId('user-message')).toHaveLength(1); // no new message of the reader
    const items = screen.getAllByTestId('assistant-message');
    expect(items).toHaveLength(3);
    expect(items.slice(1).map((li) => within(li).getByTestId('speaker-name').textContent)).toEqual(['Mr. Darcy', 'Narrator']);
    expect(screen.getByTestId('continue-button')).toBeDisabled();
    act(() => {
      const es = FakeEventSource.last;
      es.emit('message_complete', { message_id: 'aaaaaaaa-0000-4000-8000-000000000001', more: true, content: 'He bowed.', status: 'completed' }, '1-0');
      es.emit('message_complete', { message_id: 'aaaaaaaa-0001-4000-8000-000000000001', more: false, content: 'Silence.', status: 'completed' }, '1-1');
    });
    expect(screen.getAllByTestId('assistant-message')[2]).toHaveTextContent('Silence.');
    expect(screen.getByTestId('continue-button')).toBeEnabled();
  });

  it('shows no composer, continue button or "why" link to someone else', async () => {
    renderPage([history[0], { ...history[1], speaker: ELIZABETH }], { as: VIEWER });
    await screen.findByTestId('assistant-message');
    await screen.findByTestId('scene-member');
    expect(screen.queryByTestId('continue-button')).toBeNull();
    expect(screen.queryByTestId('message-input')).toBeNull();
    expect(screen.queryByTestId('why-link')).toBeNull();
    // The scene is read-only.
    expect(screen.getByTestId('scene-member')).toHaveTextContent('Elizabeth Bennet');
    expect(screen.getByTestId('scene-member')).toHaveTextContent('50%');
    expect(screen.queryByTestId('scene-save')).toBeNull();
    expect(screen.queryByRole('slider')).toBeNull();
  });

  it('Stop stops the whole turn, passing over an answer that has just ended', async () => {
    const user = userEvent.setup();
    const [A1, A2] = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0001-4000-8000-000000000001'];
    const server = renderPage(history, { speakers: [DARCY, ELIZABETH], endedAnswers: [A1] });
    await user.type(await screen.findByTestId('message-input'), 'Go on');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    await user.click(screen.getByTestId('stop-button'));
    await waitFor(() => expect(server.requests.filter((r) => r.path.endsWith('/cancel')).map((r) => r.path)).toEqual([
      `/conversations/${CONV}/messages/${A1}/cancel`,
      `/conversations/${CONV}/messages/${A2}/cancel`,
    ]));
    expect(screen.getByTestId('stop-button')).toHaveTextContent('Stopping…');
    act(() => {
      const es = FakeEventSource.last;
      es.emit('message_complete', { message_id: A1, more: true, content: 'Very well', status: 'cancelled' }, '1-0');
      es.emit('message_complete', { message_id: A2, more: false, content: '', status: 'cancelled' }, '1-1');
    });
    expect(screen.getAllByTestId('assistant-message').slice(1).map((li) => li.getAttribute('data-status'))).toEqual(['cancelled', 'cancelled']);
    expect(screen.queryByTestId('stop-button')).toBeNull();
    // Both answers of the turn may be regenerated (as may the completed one before them).
    for (const li of screen.getAllByTestId('assistant-message').slice(1)) expect(within(li).getByTestId('regenerate-button')).toBeInTheDocument();
    expect(screen.queryByTestId('error-banner')).toBeNull();
  });

  it('after a reload mid-turn, rebuilds the answers still going on and leaves the ended ones', async () => {
    const [A1, A2] = ['bbbbbbbb-0000-4000-8000-000000000001', 'bbbbbbbb-0001-4000-8000-000000000001'];
    writePersistedStream(CONV, {
      assistant_message_id: A1,
      stream_url: streamUrl(A1),
      stream_expires_at: future(),
      last_event_id: '1-3',
      text: 'Indeed.',
      answers: [
        { message_id: A1, speaker: DARCY, text: 'Indeed.' },
        { message_id: A2, speaker: ELIZABETH, text: 'Not at a' },
      ],
    });
    renderPage([
      ...history,
      { id: 'm-user-2', role: 'user', content: 'Well?', status: 'completed' },
      { id: A1, role: 'assistant', content: 'Indeed.', status: 'completed', speaker: DARCY },
      { id: A2, role: 'assistant', content: '', status: 'streaming', speaker: ELIZABETH },
    ]);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    expect(es.url).toBe(streamUrl(A1)); // from the start
    const item = (mid: string) => document.querySelector(`[data-testid="assistant-message"][data-id="${mid}"]`) as HTMLElement;
    expect(item(A2)).toHaveTextContent('Not at a');
    act(() => {
      es.emit('message_chunk', { content: 'Ind', delta: 'Ind', message_id: A1 }, '1-0');
      es.emit('message_complete', { message_id: A1, more: true, content: 'Indeed.', status: 'completed' }, '1-1');
      es.emit('message_chunk', { content: 'Not', delta: 'Not', message_id: A2 }, '1-2');
      es.emit('message_chunk', { content: 'Not at a', delta: ' at a', message_id: A2 }, '1-3');
      es.emit('message_chunk', { content: 'Not at all.', delta: 'll.', message_id: A2 }, '1-4');
    });
    expect(within(item(A1)).getByTestId('message-content').textContent?.trim()).toBe('Indeed.');
    expect(within(item(A2)).getByTestId('message-content').textContent?.trim()).toBe('Not at all.');
    expect(item(A1)).toHaveAttribute('data-status', 'completed');
  });

  it('edits and saves the scene: members, talkativeness, narrator', async () => {
    const user = userEvent.setup();
    const server = renderPage(history, { novelId: NOVEL });
    const panel = await screen.findByTestId('scene-panel');
    await within(panel).findByTestId('scene-member');
    // A character of the novel (those in the scene are not offered again).
    const select = await within(panel).findByTestId('scene-character');
    expect(within(select).queryByRole('option', { name: 'Elizabeth Bennet' })).toBeNull();
    await user.selectOptions(select, 'c-darcy');
    await user.click(within(panel).getByTestId('scene-add-character'));
    // Someone named freely; an empty name is refused here.
    await user.click(within(panel).getByTestId('scene-add-free'));
    expect(within(panel).getByTestId('field-error-scene-free-name')).toHaveTextContent('Enter a name.');
    await user.type(within(panel).getByTestId('scene-free-name'), 'Mrs. Reynolds');
    await user.click(within(panel).getByTestId('scene-add-free'));
    expect(within(panel).getAllByTestId('scene-member').map((li) => li.querySelector('.scene-name')?.textContent)).toEqual([
      'Elizabeth Bennet',
      'Mr. Darcy',
      'Mrs. Reynolds',
    ]);
    fireEvent.change(within(panel).getByLabelText('Talkativeness of Mr. Darcy'), { target: { value: '0.8' } });
    expect(within(panel).getAllByTestId('scene-member')[1]).toHaveTextContent('80%');
    await user.click(within(panel).getByRole('button', { name: 'Remove Elizabeth Bennet' }));
    await user.click(within(panel).getByLabelText('A narrator describes the scene'));
    await user.click(within(panel).getByTestId('scene-save'));
    await waitFor(() => expect(within(panel).getByRole('status')).toHaveTextContent('Scene saved.'));
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      narrator: true,
      members: [
        { character_id: 'c-darcy', name: 'Mr. Darcy', talkativeness: 0.8 },
        { character_id: null, name: 'Mrs. Reynolds', talkativeness: 0.5 },
      ],
    });
    // The saved scene is who may be picked to answer.
    expect(screen.getByRole('checkbox', { name: 'Mrs. Reynolds' })).toBeInTheDocument();
    expect(screen.queryByRole('checkbox', { name: 'Elizabeth Bennet' })).toBeNull();
  });

  it('shows the error of each member where it belongs when the scene is refused', async () => {
    const user = userEvent.setup();
    const cast: Cast = {
      narrator: false,
      members: [
        { character_id: 'c-eliza', name: 'Elizabeth Bennet', talkativeness: 0.5 },
        { character_id: 'c-unknown', name: 'Mr. Collins', talkativeness: 0.5 },
      ],
    };
    renderPage(history, { cast });
    const panel = await screen.findByTestId('scene-panel');
    await waitFor(() => expect(within(panel).getAllByTestId('scene-member')).toHaveLength(2));
    await user.click(within(panel).getByTestId('scene-save'));
    const rows = within(panel).getAllByTestId('scene-member');
    expect(await within(rows[1]).findByTestId('field-error-members.1.character_id')).toHaveTextContent('Not a character of this novel.');
    expect(within(rows[0]).queryByRole('alert')).toBeNull();
    expect(within(panel).getByTestId('error-banner')).toHaveTextContent('Unknown character.');
    expect(within(panel).getByRole('status')).toHaveTextContent('');
  });

  it('"Why this answer?" shows the owner what the model received, as plain text', async () => {
    const user = userEvent.setup();
    const prompt: MessagePrompt = {
      message_id: 'm-asst-1',
      attempt: 1,
      model: 'smollm2',
      provider: 'ollama',
      settings: { temperature: 0.7, max_tokens: 300 },
      sections: [
        { name: 'persona', tokens: 42, text: 'You are Elizabeth Bennet. <img src=x onerror=alert(1)>' },
        { name: 'brief', tokens: 17, text: 'What changed:\n1. Elizabeth is shy.' },
      ],
      messages: [
        { role: 'system', content: 'You are Elizabeth Bennet. <b>bold?</b>' },
        { role: 'user', content: 'Good evening, Miss Bennet.' },
      ],
      prompt_tokens: 80,
      truncated: false,
    };
    renderPage([...history, { id: 'm-asst-2', role: 'assistant', content: 'Hm.', status: 'failed' }], { prompts: { 'm-asst-1': prompt } });
    await screen.findByTestId('conversation');
    const links = await screen.findAllByTestId('why-link');
    expect(links).toHaveLength(2); // the completed and the failed answer
    expect(links[0]).toHaveTextContent('Why this answer?');
    await user.click(links[0]);
    const panel = await screen.findByTestId('prompt-panel');
    expect(within(panel).getByTestId('prompt-model')).toHaveTextContent('smollm2 (ollama)');
    expect(within(panel).getAllByTestId('prompt-setting').map((d) => d.textContent)).toEqual(['Temperature0.7', 'Max tokens300']);
    const sections = within(panel).getAllByTestId('prompt-section');
    expect(sections.map((d) => d.querySelector('summary')?.textContent)).toEqual(['persona · 42 tokens', 'brief · 17 tokens']);
    expect(sections[0]).not.toHaveAttribute('open'); // collapsed until asked
    expect(sections[0].querySelector('pre')?.textContent).toBe('You are Elizabeth Bennet. <img src=x onerror=alert(1)>');
    expect(panel.querySelector('img')).toBeNull();
    expect(panel.querySelector('b')).toBeNull();
    expect(within(panel).getAllByTestId('prompt-message').map((li) => li.getAttribute('data-role'))).toEqual(['system', 'user']);
    expect(within(panel).getAllByTestId('prompt-message')[1]).toHaveTextContent('Good evening, Miss Bennet.');

    // An answer without a recorded prompt (404).
    await user.click(screen.getAllByTestId('why-link')[1]);
    expect(await screen.findByTestId('prompt-missing')).toHaveTextContent('No prompt was recorded for this answer.');
  });

  it('"What they know" opens the memory panel for the owner and reads it again when a turn ends', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    const toggle = await screen.findByRole('button', { name: 'What they know' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByTestId('memory-panel')).toBeNull();
    server.state.memory = ['The ball is on Friday.'];
    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    const panel = await screen.findByTestId('memory-panel');
    expect(await within(panel).findByText('The ball is on Friday.')).toBeInTheDocument();
    const memoryReads = () => server.requests.filter((r) => r.method === 'GET' && r.path === `/conversations/${CONV}/memory`).length;
    expect(memoryReads()).toBe(1);

    await user.type(screen.getByTestId('message-input'), 'Shall we dance?');
    await user.click(screen.getByTestId('send-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    server.state.memory = ['Darcy asked Elizabeth to dance.', 'The ball is on Friday.'];
    act(() => FakeEventSource.last.emit('message_complete', { content: 'With pleasure.', status: 'completed' }, '1-0'));
    expect(await within(panel).findByText('Darcy asked Elizabeth to dance.')).toBeInTheDocument();
    expect(memoryReads()).toBe(2);

    await user.click(toggle);
    expect(screen.queryByTestId('memory-panel')).toBeNull();
  });

  it('offers "What they know" to the owner only', async () => {
    renderPage(history, { as: VIEWER });
    await screen.findByTestId('assistant-message');
    await screen.findByTestId('scene-member');
    expect(screen.queryByRole('button', { name: 'What they know' })).toBeNull();
  });

  it('shows the brief the model is told, collapsed', async () => {
    renderPage(history);
    const brief = await screen.findByTestId('conversation-brief');
    expect(brief.tagName).toBe('DETAILS');
    expect(brief).not.toHaveAttribute('open');
    expect(await within(brief).findByTestId('brief')).toHaveTextContent('1. Elizabeth Bennet is shy.');
    expect(within(brief).getByTestId('brief').tagName).toBe('PRE');
    expect(within(brief).getByTestId('brief-tokens')).toHaveTextContent('about 17 tokens');
  });
});

describe('<ConversationPage> issue 26: visibility, edits, versions, search', () => {
  const item = (mid: string) => document.querySelector(`.message-list > [data-id="${mid}"]`) as HTMLElement;
  const turnHistory: ChatMessage[] = [
    { id: 'm-user-1', role: 'user', content: 'Good evening, Miss Bennet.', status: 'completed' },
    { id: 'm-asst-1', role: 'assistant', content: 'Good evening.', status: 'completed', speaker: ELIZABETH },
    { id: 'm-user-2', role: 'user', content: 'Shall we dance?', status: 'completed' },
    { id: 'm-asst-2', role: 'assistant', content: 'Perhaps.', status: 'completed', speaker: ELIZABETH },
  ];

  it('the owner changes who may see the conversation; the badge follows', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    const select = await screen.findByTestId('visibility-select');
    expect(select).toHaveValue('public');
    expect(screen.getByTestId('visibility-badge')).toHaveTextContent('Public');
    expect(screen.getByText('Everyone can find and read it.')).toBeInTheDocument();
    const historyReads = server.requests.filter((r) => r.method === 'GET' && r.path === `/conversations/${CONV}`).length;
    await user.selectOptions(select, 'private');
    await waitFor(() => expect(screen.getByTestId('visibility-status')).toHaveTextContent('Saved.'));
    expect(server.requests.find((r) => r.method === 'PUT' && r.path === `/conversations/${CONV}`)?.body).toEqual({ visibility: 'private' });
    expect(screen.getByTestId('visibility-badge')).toHaveTextContent('Private');
    expect(screen.getByText('Only you can see it.')).toBeInTheDocument();
    // The history is not read again (a turn streaming into it would be lost).
    expect(server.requests.filter((r) => r.method === 'GET' && r.path === `/conversations/${CONV}`)).toHaveLength(historyReads);
  });

  it('others see the badge but no select', async () => {
    renderPage(history, { as: VIEWER, visibility: 'unlisted' });
    expect(await screen.findByTestId('visibility-badge')).toHaveTextContent('Unlisted');
    expect(screen.queryByTestId('visibility-select')).toBeNull();
  });

  it('a fork takes the visibility chosen, or leaves it to the reader’s default', async () => {
    const user = userEvent.setup();
    const server = renderPage(history, { as: VIEWER });
    const select = await screen.findByTestId('fork-visibility');
    expect(select).toHaveValue('');
    await user.selectOptions(select, 'unlisted');
    await user.click(screen.getByTestId('fork-button'));
    await waitFor(() => expect(server.requests.some((r) => r.path === `/conversations/${CONV}/fork`)).toBe(true));
    expect(server.requests.find((r) => r.path === `/conversations/${CONV}/fork`)?.body).toEqual({ visibility: 'unlisted' });
  });

  it('edits an earlier message: the text changes, its answer is marked stale, no regenerate offered', async () => {
    const user = userEvent.setup();
    const server = renderPage(turnHistory);
    await screen.findAllByTestId('user-message');
    const first = item('m-user-1');
    expect(within(item('m-asst-1')).queryByTestId('stale-note')).toBeNull();
    await user.click(within(first).getByTestId('edit-message'));
    expect(within(first).queryByTestId('edit-save-regenerate')).toBeNull(); // not the last turn
    const input = within(first).getByLabelText('Edit your message');
    expect(input).toHaveValue('Good evening, Miss Bennet.');
    await user.clear(input);
    await user.type(input, 'Good morning, Miss Bennet.');
    await user.click(within(first).getByTestId('edit-save'));
    await waitFor(() => expect(within(item('m-user-1')).getByTestId('message-content')).toHaveTextContent('Good morning, Miss Bennet.'));
    expect(within(item('m-user-1')).getByTestId('edited-mark')).toHaveTextContent('(edited)');
    expect(within(item('m-asst-1')).getByTestId('stale-note')).toHaveTextContent('Answers an earlier version of the message.');
    expect(within(item('m-asst-2')).queryByTestId('stale-note')).toBeNull();
    expect(server.requests.find((r) => r.method === 'PATCH')).toMatchObject({ path: `/conversations/${CONV}/messages/m-user-1`, body: { content: 'Good morning, Miss Bennet.' } });
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('"Save and regenerate answers" on the last turn streams the new answers like a send', async () => {
    const user = userEvent.setup();
    const server = renderPage(turnHistory);
    await screen.findAllByTestId('user-message');
    await user.click(within(item('m-user-2')).getByTestId('edit-message'));
    const input = within(item('m-user-2')).getByLabelText('Edit your message');
    await user.clear(input);
    await user.type(input, 'Shall we walk?');
    await user.click(within(item('m-user-2')).getByTestId('edit-save-regenerate'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ content: 'Shall we walk?', regenerate: true });
    expect(FakeEventSource.last.url).toBe(streamUrl('m-asst-2', 'T7'));
    expect(item('m-asst-2')).toHaveAttribute('data-status', 'pending');
    expect(within(item('m-asst-2')).queryByTestId('stale-note')).toBeNull();
    act(() => {
      FakeEventSource.last.chunk('5-0', 'Gladly.');
      FakeEventSource.last.emit('message_complete', { content: 'Gladly.', status: 'completed' }, '5-1');
    });
    expect(item('m-asst-2')).toHaveAttribute('data-status', 'completed');
    expect(within(item('m-asst-2')).getByTestId('message-content')).toHaveTextContent('Gladly.');
    expect(within(item('m-user-2')).getByTestId('message-content')).toHaveTextContent('Shall we walk?');
    // The earlier answer is kept as a version.
    expect(within(item('m-asst-2')).getByTestId('alternative-position')).toHaveTextContent('2 / 2');
  });

  it('deletes a message after confirming: a placeholder keeps its place, its answer is stale', async () => {
    const user = userEvent.setup();
    const server = renderPage(turnHistory);
    await screen.findAllByTestId('user-message');
    await user.click(within(item('m-user-1')).getByTestId('delete-message'));
    const dialog = within(item('m-user-1')).getByTestId('delete-message-dialog');
    expect(dialog).toHaveAttribute('role', 'alertdialog');
    expect(server.requests.some((r) => r.method === 'DELETE')).toBe(false);
    await user.click(within(dialog).getByTestId('delete-message-confirm'));
    await waitFor(() => expect(within(item('m-user-1')).getByTestId('message-deleted')).toHaveTextContent('Message deleted.'));
    expect(item('m-user-1')).toHaveAttribute('data-deleted', 'true');
    expect(within(item('m-user-1')).queryByTestId('edit-message')).toBeNull();
    expect(within(item('m-asst-1')).getByTestId('stale-note')).toBeInTheDocument();
    expect(server.requests.find((r) => r.method === 'DELETE')?.path).toBe(`/conversations/${CONV}/messages/m-user-1`);
  });

  it('a message a fork shares gets its own copy: the page takes the new ids', async () => {
    const user = userEvent.setup();
    const server = renderPage(turnHistory, { copyOnWrite: true });
    await screen.findAllByTestId('user-message');
    await user.click(within(item('m-user-1')).getByTestId('edit-message'));
    const input = within(item('m-user-1')).getByLabelText('Edit your message');
    await user.clear(input);
    await user.type(input, 'Good morning.');
    await user.click(within(item('m-user-1')).getByTestId('edit-save'));
    // That stretch of the history is read again: the copies replace the rows, nothing else moves.
    await waitFor(() => expect(item('m-user-1-own')).not.toBeNull());
    expect(item('m-asst-1-own')).not.toBeNull();
    expect(within(item('m-asst-1-own')).getByTestId('stale-note')).toBeInTheDocument();
    expect([...document.querySelectorAll('.message-list > .message')].map((li) => (li as HTMLElement).dataset.id)).toEqual([
      'm-user-1-own',
      'm-asst-1-own',
      'm-user-2',
      'm-asst-2',
    ]);
    const reread = server.requests.find((r) => r.method === 'GET' && r.path === `/conversations/${CONV}/messages`)!;
    expect([reread.query?.get('page'), reread.query?.get('size')]).toEqual(['0', '2']);
    // What comes next goes to the copy.
    await user.click(within(item('m-user-1-own')).getByTestId('delete-message'));
    await user.click(within(item('m-user-1-own')).getByTestId('delete-message-confirm'));
    await waitFor(() => expect(server.requests.some((r) => r.method === 'DELETE')).toBe(true));
    expect(server.requests.find((r) => r.method === 'DELETE')?.path).toBe(`/conversations/${CONV}/messages/m-user-1-own`);
  });

  it('regenerating the answers of an edited shared message streams into their copies, in place', async () => {
    const user = userEvent.setup();
    renderPage(turnHistory, { copyOnWrite: true });
    await screen.findAllByTestId('user-message');
    await user.click(within(item('m-user-2')).getByTestId('edit-message'));
    await user.type(within(item('m-user-2')).getByLabelText('Edit your message'), '!');
    await user.click(within(item('m-user-2')).getByTestId('edit-save-regenerate'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect([...document.querySelectorAll('.message-list > .message')].map((li) => (li as HTMLElement).dataset.id)).toEqual([
      'm-user-1',
      'm-asst-1',
      'm-user-2-own',
      'm-asst-2-own',
    ]);
    expect(item('m-asst-2-own')).toHaveAttribute('data-status', 'pending');
    act(() => FakeEventSource.last.emit('message_complete', { content: 'Gladly.', status: 'completed' }, '6-0'));
    expect(within(item('m-asst-2-own')).getByTestId('alternative-position')).toHaveTextContent('2 / 2');
  });

  it('shows deleted messages, stale answers and edits from the history; only the owner may edit', async () => {
    renderPage(
      [
        { id: 'm-user-1', role: 'user', content: '', status: 'completed', deleted: true },
        { id: 'm-asst-1', role: 'assistant', content: 'Good evening.', status: 'completed', stale: true },
        { id: 'm-user-2', role: 'user', content: 'Again', status: 'completed', edited_at: '2026-01-02T00:00:00Z' },
      ],
      { as: VIEWER },
    );
    await screen.findAllByTestId('user-message');
    expect(within(item('m-user-1')).getByTestId('message-deleted')).toBeInTheDocument();
    expect(within(item('m-asst-1')).getByTestId('stale-note')).toBeInTheDocument();
    expect(within(item('m-user-2')).getByTestId('edited-mark')).toBeInTheDocument();
    expect(screen.queryByTestId('edit-message')).toBeNull();
    expect(screen.queryByTestId('delete-message')).toBeNull();
    expect(screen.queryByTestId('regenerate-button')).toBeNull();
  });

  it('switches between the versions of an answer, reading them once', async () => {
    const user = userEvent.setup();
    const versions: Alternatives = {
      chosen: 2,
      items: ['First take.', 'Second take.', 'Third take.'].map((content, index) => ({
        index,
        content,
        model: 'smollm2',
        grounded: false,
        total_tokens: 10,
        citations: [],
        completed_at: '2026-01-01T00:00:00Z',
      })),
    };
    const server = renderPage(
      [history[0], { id: 'm-asst-1', role: 'assistant', content: 'Third take.', status: 'completed', alternatives_count: 3, chosen: 2 }],
      { alternatives: { 'm-asst-1': versions } },
    );
    const answer = await screen.findByTestId('assistant-message');
    expect(within(answer).getByTestId('alternative-position')).toHaveTextContent('3 / 3');
    expect(within(answer).getByTestId('alternative-next')).toBeDisabled();
    await user.click(within(answer).getByTestId('alternative-prev'));
    await waitFor(() => expect(within(answer).getByTestId('message-content')).toHaveTextContent('Second take.'));
    await waitFor(() => expect(within(answer).getByTestId('alternative-prev')).toBeEnabled());
    expect(within(answer).getByTestId('alternative-position')).toHaveTextContent('2 / 3');
    await user.click(within(answer).getByTestId('alternative-prev'));
    await waitFor(() => expect(within(answer).getByTestId('message-content')).toHaveTextContent('First take.'));
    expect(within(answer).getByTestId('alternative-position')).toHaveTextContent('1 / 3');
    expect(within(answer).getByTestId('alternative-prev')).toBeDisabled();
    const alternativeCalls = server.requests.filter((r) => r.path.endsWith('/messages/m-asst-1/alternatives'));
    expect(alternativeCalls.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(alternativeCalls.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([{ index: 1 }, { index: 0 }]);
  });

  it('regenerates a completed answer; the earlier text becomes a version', async () => {
    const user = userEvent.setup();
    const server = renderPage(history);
    const answer = await screen.findByTestId('assistant-message');
    expect(within(answer).queryByTestId('alternatives')).toBeNull();
    await user.click(within(answer).getByTestId('regenerate-button'));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(server.requests.some((r) => r.method === 'POST' && r.path.endsWith('/messages/m-asst-1/regenerate'))).toBe(true);
    act(() => FakeEventSource.last.emit('message_complete', { content: 'Good evening again.', status: 'completed' }, '3-0'));
    expect(screen.getByTestId('assistant-message')).toHaveTextContent('Good evening again.');
    expect(within(screen.getByTestId('assistant-message')).getByTestId('alternative-position')).toHaveTextContent('2 / 2');
  });

  it('searches the conversation and leads to a hit', async () => {
    const user = userEvent.setup();
    const hit = { message: turnHistory[2], position: 2, snippet: 'Shall we <mark>dance</mark>?' };
    const server = renderPage(turnHistory, { searchHits: [hit] });
    await screen.findAllByTestId('user-message');
    await user.type(screen.getByLabelText('Words to find'), 'dance');
    await user.click(screen.getByTestId('conversation-search-submit'));
    const hits = await screen.findAllByTestId('conversation-search-hit');
    expect(hits).toHaveLength(1);
    expect(hits[0]).toHaveTextContent('You · #3 Shall we dance?');
    expect(hits[0].querySelector('mark')).toHaveTextContent('dance');
    expect(screen.getByTestId('conversation-search-count')).toHaveTextContent('1 message match “dance”.');
    const sent = server.requests.find((r) => r.path === `/conversations/${CONV}/messages/search`)!;
    expect(sent.query?.get('q')).toBe('dance');
    await user.click(hits[0]);
    await waitFor(() => expect(item('m-user-2')).toHaveClass('highlighted'));
    expect(item('m-user-2')).toHaveFocus();
  });
});
