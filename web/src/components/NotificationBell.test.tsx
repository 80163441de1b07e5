import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from '../test/fakeEventSource';
import { json, renderRoutes, type Sent } from '../test/harness';
import type { AppNotification } from '../lib/types';
import { Layout } from './Layout';
import { notificationTarget } from './NotificationBell';

const SCENARIO = '33333333-3333-4333-8333-333333333333';
const CONV = '22222222-2222-4222-8222-222222222222';

function note(id: string, extra: Partial<AppNotification> = {}): AppNotification {
  return {
    id,
    kind: 'scenario_forked',
    actor: { id: 'u2', username: 'darcy' },
    scenario_id: SCENARIO,
    conversation_id: null,
    message_id: null,
    text: `darcy forked your what-if (${id})`,
    read: false,
    created_at: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

function renderBell(initial: AppNotification[], unread: number) {
  const state = { items: [...initial], unread, tickets: 0 };
  const view = renderRoutes([{ path: '/', element: <h1>Home</h1> }], {
    at: '/',
    layout: (children) => <Layout>{children}</Layout>,
    routes: {
      'GET /notifications': () =>
        json(200, { content: state.items, page: { number: 0, size: 20, total_elements: state.items.length, total_pages: 1 }, unread_count: state.unread }),
      'POST /notifications/stream': () => {
        state.tickets += 1;
        return json(200, { stream_url: `http://ai.test/api/ai/notifications/stream?ticket=T${state.tickets}`, stream_expires_at: '2099-01-01T00:00:00Z' });
      },
      'POST /notifications/read': ({ body }: Sent) => {
        const b = body as { ids?: string[]; all?: boolean };
        let updated = 0;
        state.items = state.items.map((n) => {
          if (!n.read && (b.all || b.ids?.includes(n.id))) {
            updated += 1;
            return { ...n, read: true };
          }
          return n;
        });
        state.unread = Math.max(0, state.unread - updated);
        return json(200, { updated, unread_count: state.unread });
      },
    },
  });
  return { ...view, state };
}

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal('EventSource', FakeEventSource);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<NotificationBell>', () => {
  it('shows the unread count and grows it on a live event', async () => {
    renderBell([note('n1'), note('n2', { read: true })], 1);
    const bell = await screen.findByTestId('notification-bell');
    await waitFor(() => expect(screen.getByTestId('notification-count')).toHaveTextContent('1'));
    expect(bell).toHaveAccessibleName('Notifications, 1 unread');
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(FakeEventSource.last.url).toBe('http://ai.test/api/ai/notifications/stream?ticket=T1');
    act(() => FakeEventSource.last.emit('notification', { notification: note('n3', { kind: 'followed', text: 'darcy followed you' }), unread_count: 2 }, '1700-0'));
    expect(screen.getByTestId('notification-count')).toHaveTextContent('2');
    expect(bell).toHaveAccessibleName('Notifications, 2 unread');
  });

  it('lists the notifications, newest live one on top; a click marks it read and goes to its target', async () => {
    const user = userEvent.setup();
    const { server, state } = renderBell([note('n1')], 1);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    act(() =>
      FakeEventSource.last.emit(
        'notification',
        { notification: note('n2', { kind: 'conversation_liked', scenario_id: null, conversation_id: CONV, text: 'darcy liked your conversation' }), unread_count: 2 },
        '1700-0',
      ),
    );
    state.items = [note('n2', { kind: 'conversation_liked', scenario_id: null, conversation_id: CONV, text: 'darcy liked your conversation' }), ...state.items];
    state.unread = 2;
    await user.click(screen.getByTestId('notification-bell'));
    const panel = screen.getByTestId('notification-panel');
    expect(screen.getByTestId('notification-bell')).toHaveAttribute('aria-expanded', 'true');
    await waitFor(() => expect(within(panel).getAllByTestId('notification-item')).toHaveLength(2));
    const items = within(panel).getAllByTestId('notification-item');
    expect(items[0]).toHaveTextContent('darcy liked your conversation');
    await user.click(items[0]);
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent(`/conversations/${CONV}`));
    expect(screen.queryByTestId('notification-panel')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('notification-count')).toHaveTextContent('1'));
    expect(server.requests.find((r) => r.path === '/notifications/read')?.body).toEqual({ ids: ['n2'] });
  });

  it('"Mark all read" clears the count', async () => {
    const user = userEvent.setup();
    const { server } = renderBell([note('n1'), note('n2')], 2);
    await waitFor(() => expect(screen.getByTestId('notification-count')).toHaveTextContent('2'));
    await user.click(screen.getByTestId('notification-bell'));
    await user.click(await screen.findByTestId('notifications-read-all'));
    await waitFor(() => expect(screen.queryByTestId('notification-count')).toBeNull());
    expect(server.requests.find((r) => r.path === '/notifications/read')?.body).toEqual({ all: true });
    for (const item of screen.getAllByTestId('notification-item')) expect(item).toHaveAttribute('data-read', 'true');
    expect(screen.getByTestId('notification-bell')).toHaveAccessibleName('Notifications');
  });

  it('resumes after the stream is refused, on a fresh ticket with last_event_id', async () => {
    renderBell([], 0);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    act(() => FakeEventSource.last.emit('notification', { notification: note('n1'), unread_count: 1 }, '1700-5'));
    vi.useFakeTimers();
    try {
      act(() => FakeEventSource.last.fail());
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1_000);
      });
    } finally {
      vi.useRealTimers();
    }
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(2));
    const url = new URL(FakeEventSource.last.url);
    expect(url.searchParams.get('ticket')).toBe('T2');
    expect(url.searchParams.get('last_event_id')).toBe('1700-5');
    act(() => FakeEventSource.last.emit('notification', { notification: note('n2'), unread_count: 2 }, '1700-6'));
    expect(screen.getByTestId('notification-count')).toHaveTextContent('2');
  });

  it('reads the list again once the live stream opens, so nothing in between is missed', async () => {
    const { state, server } = renderBell([], 0);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    await waitFor(() => expect(server.requests.filter((r) => r.path === '/notifications')).toHaveLength(1));
    state.items = [note('n1')];
    state.unread = 1;
    act(() => FakeEventSource.last.open());
    await waitFor(() => expect(screen.getByTestId('notification-count')).toHaveTextContent('1'));
    expect(server.requests.filter((r) => r.path === '/notifications')).toHaveLength(2);
  });

  it('closes the stream on sign-out', async () => {
    const user = userEvent.setup();
    renderBell([], 0);
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    await user.click(screen.getByTestId('logout-button'));
    await waitFor(() => expect(screen.queryByTestId('notification-bell')).toBeNull());
    expect(FakeEventSource.last.closed).toBe(true);
  });

  it('closes the panel with Escape, back on the bell', async () => {
    const user = userEvent.setup();
    renderBell([note('n1')], 1);
    const bell = await screen.findByTestId('notification-bell');
    await user.click(bell);
    expect(screen.getByTestId('notification-panel')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('notification-panel')).toBeNull();
    expect(bell).toHaveFocus();
  });
});

describe('notificationTarget', () => {
  it('leads to the scenario, the conversation or the follower', () => {
    expect(notificationTarget(note('a'))).toBe(`/scenarios/${SCENARIO}`);
    expect(notificationTarget(note('b', { kind: 'answer_ready', actor: null, scenario_id: null, conversation_id: CONV }))).toBe(`/conversations/${CONV}`);
    expect(notificationTarget(note('c', { kind: 'followed', scenario_id: null, actor: { id: 'u3', username: 'jane bennet' } }))).toBe('/users/jane%20bennet');
  });
});
