import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from '../test/fakeEventSource';
import { ApiError } from './api';
import { NotificationStream, parseNotificationEvent } from './notificationStream';
import type { AppNotification, NotificationEvent, StreamTicket } from './types';

const ticket = (n: number): StreamTicket => ({
  stream_url: `http://ai.test/api/ai/notifications/stream?ticket=T${n}`,
  stream_expires_at: '2099-01-01T00:00:00Z',
});

const notification = (id: string): AppNotification => ({
  id,
  kind: 'followed',
  actor: { id: 'u2', username: 'darcy' },
  scenario_id: null,
  conversation_id: null,
  message_id: null,
  text: 'darcy followed you',
  read: false,
  created_at: '2026-01-01T00:00:00Z',
});

function setup(tickets: Array<StreamTicket | Error | null> = [ticket(1), ticket(2), ticket(3), ticket(4)]) {
  const received: NotificationEvent[] = [];
  let calls = 0;
  const getTicket = vi.fn(async () => {
    const next = tickets[Math.min(calls, tickets.length - 1)];
    calls += 1;
    if (next instanceof Error) throw next;
    return next;
  });
  const stream = new NotificationStream({
    getTicket,
    onNotification: (event) => received.push(event),
    createEventSource: (url) => new FakeEventSource(url),
    retryDelayMs: 1000,
    maxRetryDelayMs: 8000,
  });
  return { stream, received, getTicket };
}

beforeEach(() => {
  FakeEventSource.reset();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('NotificationStream', () => {
  it('opens the ticket URL and passes each notification on with the unread count', async () => {
    const { stream, received } = setup();
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    expect(es.url).toBe(ticket(1).stream_url);
    es.emit('notification', { notification: notification('n1'), unread_count: 3 }, '1700-0');
    expect(received).toEqual([{ notification: notification('n1'), unread_count: 3 }]);
    expect(stream.lastEventId).toBe('1700-0');
    stream.dispose();
    expect(es.closed).toBe(true);
  });

  it('ignores replays and malformed events', async () => {
    const { stream, received } = setup();
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const es = FakeEventSource.last;
    es.emit('notification', { notification: notification('n1'), unread_count: 1 }, '5-0');
    es.emit('notification', { notification: notification('n1'), unread_count: 1 }, '5-0'); // replayed
    es.emit('notification', { notification: notification('n0'), unread_count: 1 }, '4-9'); // older
    es.emit('notification', { nothing: true }, '6-0');
    es.emit('notification', { notification: notification('n2'), unread_count: 2 }, '7-0');
    expect(received.map((e) => e.notification.id)).toEqual(['n1', 'n2']);
    expect(stream.lastEventId).toBe('7-0');
  });

  it('after the server refuses the stream, resumes on a fresh ticket with last_event_id', async () => {
    const { stream, received, getTicket } = setup();
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.last.emit('notification', { notification: notification('n1'), unread_count: 1 }, '1700-3');
    FakeEventSource.last.fail(); // e.g. the ticket expired
    expect(FakeEventSource.last.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getTicket).toHaveBeenCalledTimes(2);
    expect(FakeEventSource.instances).toHaveLength(2);
    const url = new URL(FakeEventSource.last.url);
    expect(url.searchParams.get('ticket')).toBe('T2');
    expect(url.searchParams.get('last_event_id')).toBe('1700-3');
    FakeEventSource.last.emit('notification', { notification: notification('n2'), unread_count: 2 }, '1700-4');
    expect(received.map((e) => e.notification.id)).toEqual(['n1', 'n2']);
    stream.dispose();
  });

  it('a dropped connection is left to the browser to retry', async () => {
    const { stream, getTicket } = setup();
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.last.drop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.last.closed).toBe(false);
    stream.dispose();
  });

  it('when ai ends the stream at the ticket expiry, fetches a fresh ticket instead of letting the browser retry', async () => {
    const expiring = { ...ticket(1), stream_expires_at: new Date(Date.now() + 60_000).toISOString() };
    const { stream, getTicket } = setup([expiring, ticket(2)]);
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.last.open();
    FakeEventSource.last.emit('notification', { notification: notification('n1'), unread_count: 1 }, '9-0');
    vi.setSystemTime(Date.now() + 61_000);
    FakeEventSource.last.drop(); // the stream ended; the browser would reconnect with the expired ticket
    expect(FakeEventSource.last.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getTicket).toHaveBeenCalledTimes(2);
    expect(new URL(FakeEventSource.last.url).searchParams.get('last_event_id')).toBe('9-0');
    expect(new URL(FakeEventSource.last.url).searchParams.get('ticket')).toBe('T2');
    stream.dispose();
  });

  it('backs off while tickets cannot be had, and starts over once one works', async () => {
    const down = new ApiError({ status: 503, code: 'SERVICE_UNAVAILABLE', message: 'down' });
    const { stream, getTicket } = setup([down, down, down, ticket(4)]);
    stream.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(getTicket).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1); // 1 s
    expect(getTicket).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(getTicket).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1); // 2 s
    expect(getTicket).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(4000); // 4 s
    expect(getTicket).toHaveBeenCalledTimes(4);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.last.url).toBe(ticket(4).stream_url);
    stream.dispose();
  });

  it('stops quietly when there is no ticket to be had (signed out, or no such route)', async () => {
    const { stream, getTicket } = setup([new ApiError({ status: 404, code: 'NOT_FOUND', message: 'Not found' })]);
    const statuses: string[] = [];
    const watched = new NotificationStream({
      getTicket,
      onNotification: () => undefined,
      onStatus: (s) => statuses.push(s),
      createEventSource: (url) => new FakeEventSource(url),
    });
    watched.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(statuses).toEqual(['stopped']);
    stream.dispose();
  });

  it('a ticket answered after dispose opens nothing', async () => {
    let resolve: (t: StreamTicket) => void = () => undefined;
    const stream = new NotificationStream({
      getTicket: () => new Promise<StreamTicket>((r) => (resolve = r)),
      onNotification: () => undefined,
      createEventSource: (url) => new FakeEventSource(url),
    });
    stream.start();
    stream.dispose();
    resolve(ticket(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});

describe('parseNotificationEvent', () => {
  it('takes a well-formed event and refuses anything else', () => {
    const event = (data: unknown) => new MessageEvent('notification', { data: typeof data === 'string' ? data : JSON.stringify(data) });
    expect(parseNotificationEvent(event({ notification: notification('n1'), unread_count: 0 }))?.notification.id).toBe('n1');
    expect(parseNotificationEvent(event('not json'))).toBeNull();
    expect(parseNotificationEvent(event({ notification: { id: 1 }, unread_count: 0 }))).toBeNull();
    expect(parseNotificationEvent(event({ notification: notification('n1') }))).toBeNull();
  });
});
