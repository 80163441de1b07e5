/** The reader's live notifications over SSE, resumable without losing or
 * doubling one.
 *
 * `POST /notifications/stream` answers a ticket URL (ai's
 * `GET /api/ai/notifications/stream?ticket=...`); its events are
 * `notification {notification, unread_count}` with the Redis stream id as
 * the SSE id, and comments as heartbeats. As with answer streams
 * (lib/stream.ts):
 *
 * - an event whose id is not after the last one applied is ignored (a
 *   reconnect may replay some);
 * - after a dropped connection EventSource reconnects by itself, sending
 *   Last-Event-ID — unless the ticket has expired (ai ends the stream then):
 *   a reconnect could only be refused, so a fresh ticket is fetched at once;
 *   when it gives up (readyState CLOSED: the server refused, often an
 *   expired ticket) a fresh ticket is fetched too and the stream is
 *   reopened with `?last_event_id=` (EventSource cannot set headers on a
 *   new URL), after a delay that doubles with each failure in a row;
 * - no ticket to be had (401/403/404/405: signed out, or a backend without
 *   the stream) stops it quietly: the list still loads over HTTP.
 */

import { ApiError } from './api';
import { EVENT_SOURCE_CLOSED, isAfter, parseEventId, withLastEventId, type EventSourceFactory, type EventSourceLike } from './stream';
import type { AppNotification, NotificationEvent, StreamTicket } from './types';

export type NotificationStreamStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface NotificationStreamOptions {
  /** A fresh ticket; null when there is none to be had (stops the stream). */
  getTicket: () => Promise<StreamTicket | null>;
  onNotification: (event: NotificationEvent) => void;
  onStatus?: (status: NotificationStreamStatus) => void;
  createEventSource?: EventSourceFactory;
  /** Resume after this id (a stream reopened by the page). */
  lastEventId?: string | null;
  /** The first retry's delay; it doubles with each failure in a row. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Drops in a row without an event before a fresh ticket is fetched. */
  maxDrops?: number;
  now?: () => number;
}

/** Statuses for which a ticket will not come by asking again. */
const NO_TICKET = new Set([401, 403, 404, 405]);

function defaultFactory(url: string): EventSourceLike {
  return new EventSource(url);
}

function isNotification(value: unknown): value is AppNotification {
  if (!value || typeof value !== 'object') return false;
  const n = value as Record<string, unknown>;
  return typeof n.id === 'string' && typeof n.kind === 'string' && typeof n.text === 'string';
}

/** The event's data as a NotificationEvent; null when it is not one. */
export function parseNotificationEvent(event: Event): NotificationEvent | null {
  const data = (event as MessageEvent).data;
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as Record<string, unknown> | null;
    const raw = value?.notification;
    if (!value || !isNotification(raw)) return null;
    const notification = { ...raw, read: raw.read === true };
    const count = typeof value.unread_count === 'number' && value.unread_count >= 0 ? value.unread_count : null;
    return count === null ? null : { notification, unread_count: count };
  } catch {
    return null;
  }
}

/** Whether an `error` event is the server's own (with data) rather than a dropped connection. */
function hasData(event: Event): boolean {
  return typeof (event as MessageEvent).data === 'string';
}

export class NotificationStream {
  private readonly options: NotificationStreamOptions;
  private lastId: string | null;
  private streamUrl: string | null = null;
  /** When the current ticket expires (ms); null when unknown. */
  private expiresAt: number | null = null;
  private es: EventSourceLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private drops = 0;
  private status: NotificationStreamStatus = 'connecting';
  private disposed = false;
  /** Ticket requests answered after dispose or a newer request are dropped. */
  private generation = 0;

  constructor(options: NotificationStreamOptions) {
    this.options = options;
    this.lastId = options.lastEventId ?? null;
  }

  /** The id of the last notification applied (where a reopen resumes). */
  get lastEventId(): string | null {
    return this.lastId;
  }

  /** The URL the stream was last opened with. */
  get url(): string | null {
    return this.streamUrl;
  }

  start(): void {
    if (this.disposed) return;
    this.setStatus('connecting');
    void this.connect();
  }

  /** Stop listening (sign-out, leaving the app). */
  dispose(): void {
    this.disposed = true;
    this.generation += 1;
    this.closeSource();
    this.clearTimer();
    this.status = 'stopped'; // not reported: whoever disposed it knows
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    let ticket: StreamTicket | null;
    try {
      ticket = await this.options.getTicket();
    } catch (error) {
      if (this.disposed || generation !== this.generation) return;
      if (error instanceof ApiError && NO_TICKET.has(error.status)) {
        this.stop();
        return;
      }
      this.retry();
      return;
    }
    if (this.disposed || generation !== this.generation) return;
    if (!ticket) {
      this.stop();
      return;
    }
    const expires = Date.parse(ticket.stream_expires_at);
    this.expiresAt = Number.isNaN(expires) ? null : expires;
    this.open(ticket.stream_url);
  }

  private open(baseUrl: string): void {
    this.closeSource();
    const url = withLastEventId(baseUrl, this.lastId);
    this.streamUrl = url;
    let source: EventSourceLike;
    try {
      source = (this.options.createEventSource ?? defaultFactory)(url);
    } catch {
      this.retry();
      return;
    }
    this.es = source;
    const guard = (handler: (event: Event) => void) => (event: Event) => {
      if (this.es === source && !this.disposed) handler(event);
    };
    source.addEventListener('open', guard(() => this.onOpen()));
    source.addEventListener('notification', guard((e) => this.onNotification(e)));
    source.addEventListener('error', guard((e) => (hasData(e) ? this.renewSoon() : this.onConnectionError(source))));
  }

  private onOpen(): void {
    this.failures = 0;
    this.setStatus('live');
  }

  private onNotification(event: Event): void {
    this.failures = 0;
    this.drops = 0;
    this.setStatus('live');
    const id = (event as MessageEvent).lastEventId ?? '';
    if (parseEventId(id)) {
      if (!isAfter(id, this.lastId)) return; // a replay
      this.lastId = id;
    }
    const parsed = parseNotificationEvent(event);
    if (parsed) this.options.onNotification(parsed);
  }

  private onConnectionError(source: EventSourceLike): void {
    if (source.readyState === EVENT_SOURCE_CLOSED) {
      this.renewSoon();
      return;
    }
    // The browser reconnects by itself (sending Last-Event-ID), unless the
    // ticket it would send has expired or it keeps failing.
    this.drops += 1;
    if (this.ticketExpired() || this.drops > (this.options.maxDrops ?? 5)) {
      this.renewSoon();
      return;
    }
    this.setStatus('reconnecting');
  }

  /** The stream ended (refused, expired or given up on): a fresh ticket after a delay. */
  private renewSoon(): void {
    this.closeSource();
    this.drops = 0;
    this.retry();
  }

  private retry(): void {
    if (this.disposed) return;
    this.setStatus('reconnecting');
    const base = this.options.retryDelayMs ?? 1_000;
    const delay = Math.min(base * 2 ** this.failures, this.options.maxRetryDelayMs ?? 60_000);
    this.failures += 1;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.disposed) void this.connect();
    }, delay);
  }

  private ticketExpired(): boolean {
    return this.expiresAt !== null && (this.options.now ?? Date.now)() >= this.expiresAt;
  }

  private stop(): void {
    this.closeSource();
    this.clearTimer();
    this.setStatus('stopped');
  }

  private closeSource(): void {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private setStatus(status: NotificationStreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }
}
