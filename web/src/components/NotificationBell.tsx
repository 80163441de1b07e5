/** The bell in the header (signed in): the unread count, a panel listing
 * the reader's notifications, and new ones pushed live over SSE
 * (lib/notificationStream.ts). Mounted per user, so signing out unmounts
 * it and closes the stream. */

import { useCallback, useEffect, useRef, useState } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { ApiError, isAbort } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { NotificationStream } from '../lib/notificationStream';
import { useApi } from '../lib/session';
import type { AppNotification } from '../lib/types';
import { Empty, ErrorBanner, Loading } from './common';

const PAGE_SIZE = 20;

/** Where a notification leads: the follower's profile, the conversation or the scenario. */
export function notificationTarget(n: AppNotification): string | null {
  if (n.kind === 'followed' && n.actor) return `/users/${encodeURIComponent(n.actor.username)}`;
  if (n.conversation_id) return `/conversations/${n.conversation_id}`;
  if (n.scenario_id) return `/scenarios/${n.scenario_id}`;
  if (n.actor) return `/users/${encodeURIComponent(n.actor.username)}`;
  return null;
}

/** "99+" beyond two digits: the badge stays small. */
function countLabel(count: number): string {
  return count > 99 ? '99+' : String(count);
}

export function NotificationBell() {
  const api = useApi();
  const navigate = useNavigate();
  const location = useLocation();
  const [items, setItems] = useState<AppNotification[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  /** Live events since the list was last asked for: its count is then older than theirs. */
  const liveSince = useRef(0);

  const load = useCallback(
    async (signal?: AbortSignal) => {
      const before = liveSince.current;
      setLoading(true);
      setError(null);
      try {
        const page = await api.notifications({ size: PAGE_SIZE }, signal);
        // Live ones the page does not have yet stay on top.
        setItems((current) => [...current.filter((n) => !page.content.some((p) => p.id === n.id) && liveSince.current > before), ...page.content]);
        if (liveSince.current === before) setUnread(page.unread_count);
      } catch (err) {
        if (isAbort(err)) return;
        // Signed out meanwhile, or a backend without notifications: no bell count, no noise.
        if (!(err instanceof ApiError && (err.status === 401 || err.status === 404))) setError(err);
      } finally {
        if (!signal?.aborted) setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  useEffect(() => {
    let opened = false;
    const stream = new NotificationStream({
      getTicket: () => api.notificationStreamTicket(),
      // The stream starts at "now": read the list once more when it first
      // opens, so nothing that came between the first read and then is missed.
      onStatus: (status) => {
        if (status === 'live' && !opened) {
          opened = true;
          void load();
        }
      },
      onNotification: ({ notification, unread_count }) => {
        liveSince.current += 1;
        setItems((current) => [notification, ...current.filter((n) => n.id !== notification.id)]);
        setUnread(unread_count);
      },
    });
    stream.start();
    return () => stream.dispose();
  }, [api, load]);

  // The panel closes on navigation, on Escape and on a click elsewhere.
  useEffect(() => setOpen(false), [location.pathname]);
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    const onPointer = (event: MouseEvent) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onPointer);
    };
  }, [open]);

  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (next) void load();
  };

  const markAll = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await api.markNotificationsRead({ all: true });
      setItems((current) => current.map((n) => ({ ...n, read: true })));
      setUnread(result.unread_count);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const follow = (n: AppNotification) => {
    if (!n.read) {
      setItems((current) => current.map((x) => (x.id === n.id ? { ...x, read: true } : x)));
      setUnread((count) => Math.max(0, count - 1));
      api.markNotificationsRead({ ids: [n.id] }).then(
        (result) => setUnread(result.unread_count),
        () => {
          /* it stays unread on the server: the next load shows it so */
        },
      );
    }
    const target = notificationTarget(n);
    setOpen(false);
    if (target) navigate(target);
  };

  const label = unread ? `Notifications, ${unread} unread` : 'Notifications';
  return (
    <div className="notifications" ref={rootRef}>
      <button
        ref={buttonRef}
        type="button"
        className="bell secondary"
        aria-label={label}
        title={label}
        aria-expanded={open}
        aria-controls="notification-panel"
        onClick={toggle}
        data-testid="notification-bell"
      >
        <span aria-hidden="true">🔔</span>
        {unread > 0 && (
          <span className="badge bell-count" aria-hidden="true" data-testid="notification-count">
            {countLabel(unread)}
          </span>
        )}
      </button>
      <span className="visually-hidden" aria-live="polite">
        {unread ? `${unread} unread notifications` : ''}
      </span>
      {open && (
        <section id="notification-panel" className="notification-panel card" aria-labelledby="notification-heading" data-testid="notification-panel">
          <div className="notification-panel-head">
            <h2 id="notification-heading" className="h-small">
              Notifications
            </h2>
            <button type="button" className="link-button small" onClick={markAll} disabled={busy || unread === 0} data-testid="notifications-read-all">
              Mark all read
            </button>
          </div>
          <ErrorBanner error={error} />
          {loading && items.length === 0 && <Loading />}
          {!loading && items.length === 0 && !error && <Empty>Nothing yet.</Empty>}
          {items.length > 0 && (
            <ul className="notification-list">
              {items.map((n) => (
                <li key={n.id}>
                  <button
                    type="button"
                    className={`notification-item${n.read ? '' : ' unread'}`}
                    onClick={() => follow(n)}
                    data-testid="notification-item"
                    data-read={n.read}
                  >
                    {!n.read && <span className="visually-hidden">Unread: </span>}
                    <span className="notification-text">{n.text}</span>
                    <span className="muted small">{formatDateTime(n.created_at)}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}
