import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from '../test/fakeEventSource';
import {
  AnswerStream,
  compareEventIds,
  isAfter,
  readPersistedStream,
  shouldResume,
  streamStorageKey,
  withLastEventId,
  writePersistedStream,
  type AnswerState,
  type AnswerStreamOptions,
  type HistoryMessage,
} from './stream';

const CONV = 'c0ffee00-0000-4000-8000-000000000001';
const MSG = 'a0a0a0a0-0000-4000-8000-000000000002';
const URL1 = `http://ai.test:8000/api/ai/conversations/${CONV}/stream?message_id=${MSG}&ticket=T1`;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const LATER = new Date(NOW + 5 * 60_000).toISOString();
const CITATION = { passage_id: 'p-1', chapter: 3, chapter_title: 'Chapter 3', chunk_index: 40, quote: 'She is tolerable…' };

function setup(overrides: Partial<AnswerStreamOptions> = {}) {
  const updates: AnswerState[] = [];
  const stream = new AnswerStream({
    conversationId: CONV,
    assistantMessageId: MSG,
    streamUrl: URL1,
    streamExpiresAt: LATER,
    onUpdate: (s) => updates.push(s),
    createEventSource: (url) => new FakeEventSource(url),
    now: () => NOW,
    ...overrides,
  });
  stream.start();
  return { stream, updates, state: () => stream.current };
}

beforeEach(() => {
  FakeEventSource.reset();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('event ids', () => {
  it('compares Redis stream ids as (ms, seq) number pairs', () => {
    expect(compareEventIds('1700000000000-9', '1700000000000-10')).toBe(-1); // not string order
    expect(compareEventIds('1700000000001-0', '1700000000000-99')).toBe(1);
    expect(compareEventIds('1700000000000-3', '1700000000000-3')).toBe(0);
    expect(compareEventIds('999-0', '1000-0')).toBe(-1);
    expect(isAfter('1-0', null)).toBe(true);
    expect(isAfter('1-0', '1-0')).toBe(false);
  });

  it('appends or replaces last_event_id on the stream URL', () => {
    const url = withLastEventId(URL1, '1700000000000-3');
    expect(url).toContain('last_event_id=1700000000000-3');
    expect(url).toContain('ticket=T1');
    expect(withLastEventId(url, '1700000000000-4')).toContain('last_event_id=1700000000000-4');
    expect(withLastEventId(url, '1700000000000-4')).not.toContain('1700000000000-3');
    expect(withLastEventId(URL1, null)).toBe(URL1);
  });
});

describe('AnswerStream', () => {
  it('applies deltas in order and keeps progress in sessionStorage', () => {
    const { state } = setup();
    const es = FakeEventSource.last;
    expect(es.url).toBe(URL1);
    es.open();
    es.chunk('1700000000000-0', 'It is ');
    es.chunk('1700000000000-1', 'a truth ');
    es.chunk('1700000000001-0', 'universally acknowledged');
    expect(state().text).toBe('It is a truth universally acknowledged');
    expect(state().status).toBe('streaming');
    expect(state().lastEventId).toBe('1700000000001-0');
    expect(readPersistedStream(CONV)).toEqual({
      assistant_message_id: MSG,
      stream_url: URL1,
      stream_expires_at: LATER,
      last_event_id: '1700000000001-0',
      text: 'It is a truth universally acknowledged',
      answers: [{ message_id: MSG, speaker: null, text: 'It is a truth universally acknowledged' }],
    });
  });

  it('trusts the cumulative content when it disagrees with the deltas', () => {
    const { state } = setup();
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Hel', 'Hel');
    es.chunk('1-1', 'lo', 'Hello');
    expect(state().text).toBe('Hello');
    es.chunk('1-3', '!', 'Hello there!'); // 1-2 was lost: content fills the gap
    expect(state().text).toBe('Hello there!');
  });

  it('ignores replayed events after the browser reconnects (no doubled deltas)', () => {
    const { state } = setup();
    const es = FakeEventSource.last;
    es.chunk('1700000000000-8', 'A');
    es.chunk('1700000000000-9', 'B');
    es.chunk('1700000000000-10', 'C');
    es.drop(); // the browser reconnects by itself, same EventSource
    expect(state().phase).toBe('reconnecting');
    expect(es.closed).toBe(false);
    // The server replays from an older id than we applied.
    es.chunk('1700000000000-9', 'B');
    es.chunk('1700000000000-10', 'C');
    es.chunk('1700000000000-11', 'D');
    expect(state().text).toBe('ABCD');
    expect(state().phase).toBe('live');
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('reopens with last_event_id after the EventSource closes', () => {
    const { state } = setup();
    const first = FakeEventSource.last;
    first.chunk('1700000000000-0', 'Mr. ');
    first.chunk('1700000000000-1', 'Darcy');
    first.fail(); // e.g. the server restarted: readyState CLOSED
    expect(first.closed).toBe(true);
    expect(FakeEventSource.instances).toHaveLength(1);
    vi.advanceTimersByTime(500);
    expect(FakeEventSource.instances).toHaveLength(2);
    const second = FakeEventSource.last;
    expect(second.url).toContain('ticket=T1');
    expect(second.url).toContain('last_event_id=1700000000000-1');
    // Anything at or before the last applied id is ignored; the rest applies once.
    second.chunk('1700000000000-1', 'Darcy');
    second.chunk('1700000000000-2', ' bowed');
    expect(state().text).toBe('Mr. Darcy bowed');
    expect(readPersistedStream(CONV)?.last_event_id).toBe('1700000000000-2');
  });

  it('gets a fresh ticket when reopening fails again, resuming after the last id', async () => {
    const renewTicket = vi.fn(async () => ({
      stream_url: `http://ai.test:8000/api/ai/conversations/${CONV}/stream?message_id=${MSG}&ticket=T2`,
      stream_expires_at: LATER,
    }));
    const { state } = setup({ renewTicket });
    FakeEventSource.last.chunk('5-0', 'One');
    FakeEventSource.last.fail();
    vi.advanceTimersByTime(500);
    FakeEventSource.last.fail(); // the old ticket is refused (401) without a single event
    await vi.advanceTimersByTimeAsync(0);
    expect(renewTicket).toHaveBeenCalledTimes(1);
    const renewed = FakeEventSource.last;
    expect(renewed.url).toContain('ticket=T2');
    expect(renewed.url).toContain('last_event_id=5-0');
    renewed.chunk('5-1', ' two');
    expect(state().text).toBe('One two');
    expect(readPersistedStream(CONV)?.stream_url).toContain('ticket=T2');
  });

  it('renews an expired ticket before opening anything', async () => {
    const renewTicket = vi.fn(async () => ({ stream_url: `${URL1}-fresh`, stream_expires_at: LATER }));
    setup({ renewTicket, streamExpiresAt: new Date(NOW - 1000).toISOString() });
    expect(FakeEventSource.instances).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(renewTicket).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.last.url).toBe(`${URL1}-fresh`);
  });

  it('a long answer that outlives its ticket renews it on the next reconnect', async () => {
    let clock = NOW;
    let n = 0;
    const renewTicket = vi.fn(async () => ({ stream_url: `${URL1}&renewed=${++n}`, stream_expires_at: new Date(clock + 5 * 60_000).toISOString() }));
    const { state } = setup({ renewTicket, now: () => clock });
    FakeEventSource.last.chunk('1-0', 'a');
    clock += 6 * 60_000; // the open connection outlives the ticket; a reconnect would be refused
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(renewTicket).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.last.url).toContain('renewed=1');
    expect(FakeEventSource.last.url).toContain('last_event_id=1-0');
    FakeEventSource.last.chunk('1-1', 'b');
    clock += 6 * 60_000;
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(0);
    FakeEventSource.last.chunk('1-2', 'c');
    FakeEventSource.last.fail();
    clock += 6 * 60_000;
    await vi.advanceTimersByTimeAsync(600);
    FakeEventSource.last.chunk('1-3', 'd');
    expect(state().text).toBe('abcd');
    expect(renewTicket.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('polls the history when no fresh ticket can be had (404)', async () => {
    const history: HistoryMessage[] = [
      { status: 'streaming', content: '' },
      { status: 'completed', content: 'The whole answer.', grounded: true, citations: [CITATION] },
    ];
    const pollMessage = vi.fn(async () => history.shift() ?? null);
    const { state } = setup({ renewTicket: async () => null, pollMessage, streamExpiresAt: new Date(NOW - 1).toISOString() });
    await vi.advanceTimersByTimeAsync(0);
    expect(state().phase).toBe('polling');
    expect(pollMessage).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(pollMessage).toHaveBeenCalledTimes(2);
    expect(state()).toMatchObject({ phase: 'done', status: 'completed', text: 'The whole answer.', grounded: true, citations: [CITATION] });
    expect(readPersistedStream(CONV)).toBeNull();
  });

  it('message_complete replaces the text with the final content and ends the stream', () => {
    const { state, updates } = setup();
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Elizabeth smi');
    es.emit(
      'message_complete',
      {
        message_id: MSG,
        role: 'assistant',
        content: 'Elizabeth smiled.',
        total_tokens: 4,
        model: 'smollm2',
        degraded: false,
        grounded: true,
        status: 'completed',
        citations: [CITATION, { chapter: 'three', quote: 42 }, null],
      },
      '1-1',
    );
    expect(state()).toMatchObject({
      text: 'Elizabeth smiled.',
      status: 'completed',
      phase: 'done',
      grounded: true,
      model: 'smollm2',
    });
    // Well-formed citations only, in the order the prompt numbered them.
    expect(state().citations).toEqual([CITATION]);
    expect(es.closed).toBe(true);
    expect(sessionStorage.getItem(streamStorageKey(CONV))).toBeNull();
    expect(updates[updates.length - 1].phase).toBe('done');
    // Nothing after the end changes it.
    es.chunk('1-2', ' extra');
    expect(state().text).toBe('Elizabeth smiled.');
  });

  it('ends as cancelled with the partial text when the answer is stopped', () => {
    const { state } = setup();
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Half an');
    es.emit('message_complete', { content: 'Half an', status: 'cancelled', grounded: false }, '1-1');
    expect(state()).toMatchObject({ status: 'cancelled', text: 'Half an', phase: 'done', grounded: false, citations: [] });
  });

  it('keeps listening after an error that a message_complete follows', () => {
    const { state } = setup();
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Partial');
    es.emit('error', { code: 'PROVIDER_ERROR', message: 'The model failed; regenerate the answer.' }, '1-1');
    expect(state().error).toEqual({ code: 'PROVIDER_ERROR', message: 'The model failed; regenerate the answer.' });
    expect(es.closed).toBe(false);
    expect(state().phase).not.toBe('done');
    es.emit('message_complete', { content: 'Partial', status: 'failed' }, '1-2');
    expect(state()).toMatchObject({ status: 'failed', phase: 'done', text: 'Partial' });
    expect(state().error?.code).toBe('PROVIDER_ERROR');
  });

  it('an ending error closes the stream and takes the outcome from the history', async () => {
    const pollMessage = vi.fn(async (): Promise<HistoryMessage> => ({ status: 'failed', content: 'Par' }));
    const { state } = setup({ pollMessage });
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Par');
    // An id-less event inherits the last id in a real EventSource: still applied.
    es.emit('error', { code: 'STREAM_UNAVAILABLE', message: 'The live stream is unavailable.' }, '1-0');
    expect(es.closed).toBe(true);
    expect(state().error?.code).toBe('STREAM_UNAVAILABLE');
    await vi.advanceTimersByTimeAsync(0);
    expect(state()).toMatchObject({ status: 'failed', phase: 'done' });
  });

  it('an ending error without a history to ask marks the answer failed', () => {
    const { state } = setup();
    FakeEventSource.last.emit('error', { code: 'NOT_STARTED', message: 'The answer has not started; retry later.' });
    expect(state()).toMatchObject({ status: 'failed', phase: 'done', error: { code: 'NOT_STARTED' } });
  });

  it('a connection error is not a server error', () => {
    const { state } = setup();
    FakeEventSource.last.drop();
    expect(state().error).toBeNull();
    expect(state().phase).toBe('reconnecting');
  });

  it('falls back to polling on not_resumable', async () => {
    const pollMessage = vi.fn(async (): Promise<HistoryMessage> => ({ status: 'completed', content: 'Saved answer' }));
    const { state } = setup({ pollMessage });
    FakeEventSource.last.emit('not_resumable', { code: 'NOT_RESUMABLE', message: 'This stream has expired.' });
    expect(FakeEventSource.last.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(state()).toMatchObject({ phase: 'done', status: 'completed', text: 'Saved answer' });
  });

  it('falls back to polling after too many drops without progress', async () => {
    const pollMessage = vi.fn(async (): Promise<HistoryMessage> => ({ status: 'streaming', content: '' }));
    const { state } = setup({ pollMessage, maxDrops: 2 });
    const es = FakeEventSource.last;
    es.drop();
    es.drop();
    expect(state().phase).toBe('reconnecting');
    es.drop();
    expect(state().phase).toBe('polling');
    expect(es.closed).toBe(true);
  });

  it('dispose stops listening but keeps the saved progress for a reload', () => {
    const { stream, state } = setup();
    const es = FakeEventSource.last;
    es.chunk('1-0', 'Kept');
    stream.dispose();
    expect(es.closed).toBe(true);
    es.chunk('1-1', ' lost');
    expect(state().text).toBe('Kept');
    expect(readPersistedStream(CONV)?.text).toBe('Kept');
  });
});

describe('reload mid-answer', () => {
  it('resumes only an answer still pending or streaming in the history', () => {
    const saved = { assistant_message_id: MSG, stream_url: URL1, stream_expires_at: LATER, last_event_id: '3-0', text: 'Hello wo' };
    expect(shouldResume(saved, { id: MSG, status: 'streaming' })).toBe(true);
    expect(shouldResume(saved, { id: MSG, status: 'pending' })).toBe(true);
    expect(shouldResume(saved, { id: MSG, status: 'completed' })).toBe(false);
    expect(shouldResume(saved, { id: 'other', status: 'streaming' })).toBe(false);
    expect(shouldResume(saved, undefined)).toBe(false);
    expect(shouldResume(null, { id: MSG, status: 'streaming' })).toBe(false);
  });

  it('reopens from the start and rebuilds the text instead of appending', () => {
    writePersistedStream(CONV, { assistant_message_id: MSG, stream_url: URL1, stream_expires_at: LATER, last_event_id: '1-2', text: 'Hello wo' });
    const saved = readPersistedStream(CONV)!;
    const { state } = setup({
      streamUrl: saved.stream_url,
      streamExpiresAt: saved.stream_expires_at,
      fromStart: true,
      text: saved.text,
      lastEventId: saved.last_event_id, // ignored: fromStart reads everything again
    });
    const es = FakeEventSource.last;
    expect(es.url).toBe(URL1); // no last_event_id
    expect(state().text).toBe('Hello wo'); // shown until the replay arrives
    es.chunk('1-0', 'Hel');
    expect(state().text).toBe('Hel'); // replaced, not appended
    es.chunk('1-1', 'lo ');
    es.chunk('1-2', 'wo');
    es.chunk('1-3', 'rld');
    expect(state().text).toBe('Hello world');
    expect(state().lastEventId).toBe('1-3');
    expect(readPersistedStream(CONV)).toMatchObject({ last_event_id: '1-3', text: 'Hello world' });
  });

  it('after a reload, a completed answer arriving first replaces the saved text', () => {
    const { state } = setup({ fromStart: true, text: 'Hello wo' });
    FakeEventSource.last.emit('message_complete', { content: 'Hello world.', status: 'completed' }, '1-9');
    expect(state()).toMatchObject({ text: 'Hello world.', status: 'completed', phase: 'done' });
  });
});

describe('a turn of several answers in one stream', () => {
  const A1 = 'a1a1a1a1-0000-4000-8000-000000000001';
  const A2 = 'a2a2a2a2-0000-4000-8000-000000000002';
  const A3 = 'a3a3a3a3-0000-4000-8000-000000000003';
  const DARCY = { kind: 'character' as const, character_id: 'c-darcy', name: 'Mr. Darcy' };
  const LIZZY = { kind: 'character' as const, character_id: 'c-lizzy', name: 'Elizabeth Bennet' };
  const NARRATOR = { kind: 'narrator' as const, character_id: null, name: 'Narrator' };
  const TURN_URL = `http://ai.test:8000/api/ai/conversations/${CONV}/stream?message_id=${A1}&ticket=T1`;

  function chunk(es: FakeEventSource, id: string, messageId: string | null, content: string, delta: string, speaker: unknown = null) {
    es.emit('message_chunk', { content, delta, ...(messageId ? { message_id: messageId } : {}), ...(speaker ? { speaker } : {}) }, id);
  }

  function complete(es: FakeEventSource, id: string, messageId: string, content: string, more: boolean, extra: Record<string, unknown> = {}) {
    es.emit('message_complete', { message_id: messageId, content, status: 'completed', more, citations: [], ...extra }, id);
  }

  function turn(overrides: Partial<AnswerStreamOptions> = {}) {
    return setup({
      assistantMessageId: A1,
      streamUrl: TURN_URL,
      answers: [
        { messageId: A1, speaker: DARCY },
        { messageId: A2, speaker: LIZZY },
        { messageId: A3, speaker: NARRATOR },
      ],
      ...overrides,
    });
  }

  const byId = (stream: AnswerStream, id: string) => stream.stateOf(id)!;

  it('routes each chunk to its answer by message_id and reports who speaks', () => {
    const { stream, updates } = turn();
    const es = FakeEventSource.last;
    expect(es.url).toBe(TURN_URL);
    expect(stream.states.map((s) => [s.messageId, s.speaker?.name, s.status])).toEqual([
      [A1, 'Mr. Darcy', 'pending'],
      [A2, 'Elizabeth Bennet', 'pending'],
      [A3, 'Narrator', 'pending'],
    ]);
    chunk(es, '1-0', A1, 'I do', 'I do', DARCY);
    chunk(es, '1-1', A1, 'I do not.', ' not.', DARCY);
    expect(byId(stream, A1)).toMatchObject({ text: 'I do not.', status: 'streaming' });
    expect(byId(stream, A2)).toMatchObject({ text: '', status: 'pending' });
    complete(es, '1-2', A1, 'I do not.', true, { speaker: DARCY });
    expect(byId(stream, A1)).toMatchObject({ text: 'I do not.', status: 'completed', phase: 'done' });
    // `more: true`: the stream stays open for the next answer.
    expect(es.closed).toBe(false);
    expect(stream.current.messageId).toBe(A2);
    expect(readPersistedStream(CONV)).not.toBeNull();

    // A chunk of the second answer never touches the first one.
    chunk(es, '1-3', A2, 'How ', 'How ', LIZZY);
    chunk(es, '1-4', A2, 'How rude.', 'rude.', LIZZY);
    expect(byId(stream, A2)).toMatchObject({ text: 'How rude.', status: 'streaming', phase: 'live' });
    expect(byId(stream, A1).text).toBe('I do not.');
    complete(es, '1-5', A2, 'How rude.', true);
    expect(es.closed).toBe(false);

    chunk(es, '1-6', A3, 'The room fell silent.', 'The room fell silent.', NARRATOR);
    complete(es, '1-7', A3, 'The room fell silent.', false);
    // The last answer (`more: false`) ends the stream.
    expect(es.closed).toBe(true);
    expect(stream.states.map((s) => [s.text, s.status, s.phase])).toEqual([
      ['I do not.', 'completed', 'done'],
      ['How rude.', 'completed', 'done'],
      ['The room fell silent.', 'completed', 'done'],
    ]);
    expect(readPersistedStream(CONV)).toBeNull();
    // Every update names its own answer.
    expect(updates.filter((u) => u.messageId === A2 && u.status === 'streaming').map((u) => u.text)).toEqual(['How ', 'How rude.']);
  });

  it('chunks without a message_id belong to the first answer (older streams)', () => {
    const { stream } = turn();
    const es = FakeEventSource.last;
    chunk(es, '1-0', null, 'Old', 'Old');
    expect(byId(stream, A1).text).toBe('Old');
    expect(byId(stream, A2).text).toBe('');
  });

  it('a message_complete without `more` ends the stream and polls for the answers it never reached', async () => {
    const pollMessage = vi.fn(async (id: string): Promise<HistoryMessage> => ({ status: 'cancelled', content: id === A2 ? 'Half' : '' }));
    const { stream } = turn({ pollMessage });
    const es = FakeEventSource.last;
    complete(es, '1-0', A1, 'Done.', false);
    expect(es.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(pollMessage.mock.calls.map((c) => c[0])).toEqual([A2, A3]);
    expect(stream.states.map((s) => [s.status, s.phase])).toEqual([
      ['completed', 'done'],
      ['cancelled', 'done'],
      ['cancelled', 'done'],
    ]);
  });

  it('resumes after a reconnect with Last-Event-ID without doubling any answer', () => {
    const { stream } = turn();
    const first = FakeEventSource.last;
    chunk(first, '7-0', A1, 'Yes', 'Yes');
    complete(first, '7-1', A1, 'Yes.', true);
    chunk(first, '7-2', A2, 'Per', 'Per');
    first.fail();
    vi.advanceTimersByTime(500);
    const second = FakeEventSource.last;
    expect(second.url).toContain('last_event_id=7-2');
    // The server replays from before what was applied: ignored; the rest applies once.
    chunk(second, '7-0', A1, 'Yes', 'Yes');
    complete(second, '7-1', A1, 'Yes.', true);
    chunk(second, '7-2', A2, 'Per', 'Per');
    chunk(second, '7-3', A2, 'Perhaps', 'haps');
    expect(byId(stream, A1).text).toBe('Yes.');
    expect(byId(stream, A2).text).toBe('Perhaps');
    expect(readPersistedStream(CONV)).toMatchObject({
      assistant_message_id: A1,
      last_event_id: '7-3',
      answers: [
        { message_id: A1, speaker: DARCY, text: 'Yes.' },
        { message_id: A2, speaker: LIZZY, text: 'Perhaps' },
        { message_id: A3, speaker: NARRATOR, text: '' },
      ],
    });
  });

  it('the browser reconnecting by itself replays nothing twice across answers', () => {
    const { stream } = turn();
    const es = FakeEventSource.last;
    complete(es, '3-0', A1, 'One.', true);
    chunk(es, '3-1', A2, 'Tw', 'Tw');
    es.drop();
    expect(stream.current.phase).toBe('reconnecting');
    chunk(es, '3-1', A2, 'Tw', 'Tw');
    chunk(es, '3-2', A2, 'Two', 'o');
    expect(byId(stream, A2).text).toBe('Two');
    expect(stream.current.phase).toBe('live');
  });

  it('a fresh ticket resumes the whole turn after the last id', async () => {
    const renewTicket = vi.fn(async () => ({ stream_url: `${TURN_URL}-renewed`, stream_expires_at: LATER }));
    const { stream } = turn({ renewTicket });
    complete(FakeEventSource.last, '4-0', A1, 'First.', true);
    FakeEventSource.last.fail();
    vi.advanceTimersByTime(500);
    FakeEventSource.last.fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(renewTicket).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.last.url).toContain('-renewed');
    expect(FakeEventSource.last.url).toContain('last_event_id=4-0');
    chunk(FakeEventSource.last, '4-1', A2, 'Second', 'Second');
    expect(byId(stream, A2).text).toBe('Second');
    expect(readPersistedStream(CONV)?.stream_url).toContain('-renewed');
  });

  it('after a reload, replays from the start and rebuilds each answer instead of appending', () => {
    writePersistedStream(CONV, {
      assistant_message_id: A1,
      stream_url: TURN_URL,
      stream_expires_at: LATER,
      last_event_id: '2-3',
      text: 'Hello.',
      answers: [
        { message_id: A1, speaker: DARCY, text: 'Hello.' },
        { message_id: A2, speaker: LIZZY, text: 'Good ev' },
      ],
    });
    const saved = readPersistedStream(CONV)!;
    const { stream } = setup({
      assistantMessageId: saved.assistant_message_id,
      streamUrl: saved.stream_url,
      fromStart: true,
      answers: saved.answers.map((a) => ({ messageId: a.message_id, speaker: a.speaker, text: a.text })),
    });
    const es = FakeEventSource.last;
    expect(es.url).toBe(TURN_URL);
    expect(byId(stream, A2).text).toBe('Good ev');
    chunk(es, '2-0', A1, 'Hello.', 'Hello.');
    complete(es, '2-1', A1, 'Hello.', true);
    chunk(es, '2-2', A2, 'Good', 'Good');
    expect(byId(stream, A2).text).toBe('Good'); // replaced, not appended
    chunk(es, '2-3', A2, 'Good ev', ' ev');
    chunk(es, '2-4', A2, 'Good evening.', 'ening.');
    expect(byId(stream, A1).text).toBe('Hello.');
    expect(byId(stream, A2).text).toBe('Good evening.');
    complete(es, '2-5', A2, 'Good evening.', false);
    expect(es.closed).toBe(true);
  });

  it('an answer already ended in the history is left alone on resume', () => {
    const updates: AnswerState[] = [];
    const { stream } = setup({
      assistantMessageId: A1,
      streamUrl: TURN_URL,
      fromStart: true,
      onUpdate: (s) => updates.push(s),
      answers: [
        { messageId: A1, speaker: DARCY, text: 'Final words.', status: 'completed' },
        { messageId: A2, speaker: LIZZY, text: '' },
      ],
    });
    const es = FakeEventSource.last;
    chunk(es, '1-0', A1, 'Fin', 'Fin');
    complete(es, '1-1', A1, 'Final words.', true);
    chunk(es, '1-2', A2, 'Indeed', 'Indeed');
    expect(updates.some((u) => u.messageId === A1)).toBe(false);
    expect(byId(stream, A2).text).toBe('Indeed');
  });

  it('an error the ai service follows with a message_complete applies to the answer speaking', () => {
    const { stream } = turn();
    const es = FakeEventSource.last;
    complete(es, '1-0', A1, 'One.', true);
    chunk(es, '1-1', A2, 'Par', 'Par');
    es.emit('error', { code: 'PROVIDER_ERROR', message: 'The model failed.' }, '1-2');
    expect(byId(stream, A2).error?.code).toBe('PROVIDER_ERROR');
    expect(byId(stream, A1).error).toBeNull();
    expect(es.closed).toBe(false);
    es.emit('message_complete', { message_id: A2, content: 'Par', status: 'failed', more: true }, '1-3');
    expect(byId(stream, A2)).toMatchObject({ status: 'failed', phase: 'done', error: { code: 'PROVIDER_ERROR' } });
    expect(es.closed).toBe(false);
    complete(es, '1-4', A3, 'Silence.', false);
    expect(es.closed).toBe(true);
  });

  it('polls the history answer by answer when the stream is lost', async () => {
    const history: Record<string, HistoryMessage[]> = {
      [A1]: [{ status: 'completed', content: 'One.', speaker: DARCY }],
      [A2]: [{ status: 'streaming', content: 'Tw' }, { status: 'completed', content: 'Two.' }],
      [A3]: [{ status: 'completed', content: 'Three.' }],
    };
    const pollMessage = vi.fn(async (id: string) => history[id].shift() ?? null);
    const { stream } = turn({ pollMessage });
    FakeEventSource.last.emit('not_resumable', { code: 'NOT_RESUMABLE', message: 'Expired.' });
    await vi.advanceTimersByTimeAsync(0);
    // Stops at the first answer still going on.
    expect(pollMessage.mock.calls.map((c) => c[0])).toEqual([A1, A2]);
    expect(byId(stream, A1)).toMatchObject({ status: 'completed', phase: 'done', text: 'One.' });
    expect(byId(stream, A2)).toMatchObject({ status: 'streaming', phase: 'polling' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(stream.states.map((s) => s.text)).toEqual(['One.', 'Two.', 'Three.']);
    expect(stream.current.phase).toBe('done');
  });
});

describe('reload mid-turn', () => {
  it('resumes a saved turn while any of its answers is still going on', () => {
    const saved = {
      assistant_message_id: 'a1',
      stream_url: URL1,
      stream_expires_at: LATER,
      last_event_id: null,
      text: '',
      answers: [
        { message_id: 'a1', speaker: null, text: 'x' },
        { message_id: 'a2', speaker: null, text: '' },
      ],
    };
    expect(shouldResume(saved, [{ id: 'a1', status: 'completed' }, { id: 'a2', status: 'streaming' }])).toBe(true);
    expect(shouldResume(saved, [{ id: 'a1', status: 'completed' }, { id: 'a2', status: 'cancelled' }])).toBe(false);
    expect(shouldResume(saved, [{ id: 'other', status: 'pending' }])).toBe(false);
  });

  it('reads a stream saved before turns had several answers as its first answer', () => {
    sessionStorage.setItem(streamStorageKey(CONV), JSON.stringify({ assistant_message_id: MSG, stream_url: URL1, last_event_id: '1-0', text: 'Old' }));
    expect(readPersistedStream(CONV)?.answers).toEqual([{ message_id: MSG, speaker: null, text: 'Old' }]);
  });
});
