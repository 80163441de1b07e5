/** One assistant answer streamed over SSE, resumable without losing or
 * doubling a delta.
 *
 * The ai service writes each answer to a Redis Stream and serves it as SSE:
 * `message_chunk {content, delta}` (content = the text so far),
 * `message_complete {message_id, content, status, grounded, citations, ...}`,
 * `error {code, message}` and `not_resumable`. Event ids are Redis stream
 * ids (`<ms>-<seq>`), so "after the last one applied" is exact:
 *
 * - every event whose id is not after the last applied one is ignored
 *   (a reconnect may replay some);
 * - EventSource reconnects by itself after a drop (sending Last-Event-ID);
 *   when it gives up (readyState CLOSED: the server answered an error such
 *   as an expired ticket) the stream is reopened with `last_event_id`, then
 *   with a fresh ticket (`renewTicket`), and as a last resort the history is
 *   polled (`pollMessage`) until the answer has ended;
 * - while it streams, `{assistant_message_id, stream_url, last_event_id,
 *   text}` is kept in sessionStorage per conversation, so a reload can
 *   reopen the stream from the start and rebuild the text (`fromStart`).
 */

import type { Citation, MessageStatus, StreamTicket } from './types';

export const EVENT_SOURCE_CLOSED = 2;

/** Errors the ai service follows with a `message_complete` (failed, or for
 * PERSIST_FAILED the answer once core took it): the stream stays open. */
export const ERRORS_BEFORE_COMPLETE = new Set(['PROVIDER_ERROR', 'WORKER_LOST', 'PERSIST_FAILED']);

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export function isTerminal(status: string | null | undefined): boolean {
  return !!status && TERMINAL.has(status);
}

// -- event ids ----------------------------------------------------------------------

/** A Redis stream id as a (ms, seq) pair; null when it is not one. */
export function parseEventId(id: string | null | undefined): [bigint, bigint] | null {
  if (!id) return null;
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(id.trim());
  if (!match) return null;
  return [BigInt(match[1]), BigInt(match[2])];
}

/** -1, 0 or 1 as `a` is before, equal to or after `b` (as (ms, seq) pairs). */
export function compareEventIds(a: string, b: string): number {
  const x = parseEventId(a);
  const y = parseEventId(b);
  if (!x || !y) return a === b ? 0 : a < b ? -1 : 1;
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

/** Whether `id` comes after `last` (anything comes after nothing). */
export function isAfter(id: string, last: string | null): boolean {
  return last === null || compareEventIds(id, last) > 0;
}

/** The URL with `last_event_id` set (replacing any earlier one). */
export function withLastEventId(url: string, lastEventId: string | null): string {
  if (!lastEventId) return url;
  try {
    const absolute = new URL(url, typeof window !== 'undefined' ? window.location.href : 'http://localhost/');
    absolute.searchParams.set('last_event_id', lastEventId);
    return absolute.toString();
  } catch {
    const separator = url.includes('?') ? '&' : '?';
    return `${url}${separator}last_event_id=${encodeURIComponent(lastEventId)}`;
  }
}

// -- sessionStorage ----------------------------------------------------------------------

export interface PersistedStream {
  assistant_message_id: string;
  stream_url: string;
  stream_expires_at: string | null;
  last_event_id: string | null;
  text: string;
}

export function streamStorageKey(conversationId: string): string {
  return `gaji.stream.${conversationId}`;
}

function defaultSessionStorage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.sessionStorage : null;
  } catch {
    return null;
  }
}

export function readPersistedStream(
  conversationId: string,
  storage: Storage | null = defaultSessionStorage(),
): PersistedStream | null {
  try {
    const raw = storage?.getItem(streamStorageKey(conversationId));
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<PersistedStream>;
    if (typeof value.assistant_message_id !== 'string' || typeof value.stream_url !== 'string') return null;
    return {
      assistant_message_id: value.assistant_message_id,
      stream_url: value.stream_url,
      stream_expires_at: typeof value.stream_expires_at === 'string' ? value.stream_expires_at : null,
      last_event_id: typeof value.last_event_id === 'string' ? value.last_event_id : null,
      text: typeof value.text === 'string' ? value.text : '',
    };
  } catch {
    return null;
  }
}

export function writePersistedStream(
  conversationId: string,
  value: PersistedStream,
  storage: Storage | null = defaultSessionStorage(),
): void {
  try {
    storage?.setItem(streamStorageKey(conversationId), JSON.stringify(value));
  } catch {
    /* storage full or unavailable: a reload then falls back to the history */
  }
}

export function clearPersistedStream(conversationId: string, storage: Storage | null = defaultSessionStorage()): void {
  try {
    storage?.removeItem(streamStorageKey(conversationId));
  } catch {
    /* nothing to clear */
  }
}

/** On load: whether a saved in-progress answer should be resumed, given
 * that message as the history has it (null: not in the history). */
export function shouldResume(
  saved: PersistedStream | null,
  historyMessage: { id: string; status: string } | null | undefined,
): boolean {
  return !!saved && !!historyMessage && historyMessage.id === saved.assistant_message_id && !isTerminal(historyMessage.status);
}

// -- the stream ---------------------------------------------------------------------------

export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

/** The well-formed citations of an event or a message (anything else is dropped). */
export function citationsOf(value: unknown): Citation[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (c): c is Citation =>
      !!c &&
      typeof c === 'object' &&
      typeof (c as Citation).quote === 'string' &&
      typeof (c as Citation).chapter === 'number' &&
      typeof (c as Citation).passage_id === 'string',
  ).map((c) => ({
    passage_id: c.passage_id,
    chapter: c.chapter,
    chapter_title: typeof c.chapter_title === 'string' ? c.chapter_title : '',
    chunk_index: typeof c.chunk_index === 'number' ? c.chunk_index : 0,
    quote: c.quote,
  }));
}

export type StreamPhase = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'done';

export interface AnswerState {
  messageId: string;
  text: string;
  status: MessageStatus;
  lastEventId: string | null;
  phase: StreamPhase;
  error: { code: string; message: string } | null;
  grounded: boolean | null;
  degraded: boolean;
  model: string | null;
  /** The passages the answer is grounded in (from `message_complete`). */
  citations: Citation[];
}

/** What polling the history answers: the message, or null when it is gone. */
export interface HistoryMessage {
  status: string;
  content: string;
  grounded?: boolean | null;
  degraded?: boolean;
  model?: string;
  citations?: Citation[];
}

export interface AnswerStreamOptions {
  conversationId: string;
  assistantMessageId: string;
  streamUrl: string;
  streamExpiresAt?: string | null;
  /** Reload: read the stream from its first event and rebuild the text;
   * `text` is shown until the first event replaces it. */
  fromStart?: boolean;
  /** Text already shown (and, unless fromStart, the base deltas append to). */
  text?: string;
  /** Resume after this id (ignored when fromStart). */
  lastEventId?: string | null;
  status?: MessageStatus;
  onUpdate: (state: AnswerState) => void;
  /** A fresh ticket for this answer; null when none can be had (404). */
  renewTicket?: () => Promise<StreamTicket | null>;
  /** The answer as the history has it; null when it is gone. */
  pollMessage?: () => Promise<HistoryMessage | null>;
  createEventSource?: EventSourceFactory;
  storage?: Storage | null;
  now?: () => number;
  /** Delay before reopening a closed stream. */
  reopenDelayMs?: number;
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Polling gives up after this long (the answer is then in the history). */
  maxPollMs?: number;
  /** Connection drops in a row (no event between) before falling back to polling. */
  maxDrops?: number;
  maxRenewals?: number;
}

const EXPIRY_MARGIN_MS = 5_000;

function defaultFactory(url: string): EventSourceLike {
  return new EventSource(url);
}

function parseData(event: Event): Record<string, unknown> | null {
  const data = (event as MessageEvent).data;
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function eventIdOf(event: Event): string {
  const id = (event as MessageEvent).lastEventId;
  return typeof id === 'string' ? id : '';
}

export class AnswerStream {
  private state: AnswerState;
  private readonly options: AnswerStreamOptions;
  private streamUrl: string;
  private expiresAt: number | null;
  private es: EventSourceLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The first event of a `fromStart` stream replaces the shown text. */
  private replaceOnFirst: boolean;
  private closesWithoutEvents = 0;
  private dropsWithoutEvents = 0;
  private renewals = 0;
  private pollStarted = 0;
  private pollDelay = 0;
  private readonly seenErrors = new Set<string>();
  private disposed = false;

  constructor(options: AnswerStreamOptions) {
    this.options = options;
    this.streamUrl = options.streamUrl;
    this.expiresAt = options.streamExpiresAt ? Date.parse(options.streamExpiresAt) : null;
    if (this.expiresAt !== null && Number.isNaN(this.expiresAt)) this.expiresAt = null;
    this.replaceOnFirst = !!options.fromStart;
    this.state = {
      messageId: options.assistantMessageId,
      text: options.text ?? '',
      status: options.status ?? 'pending',
      lastEventId: options.fromStart ? null : (options.lastEventId ?? null),
      phase: 'connecting',
      error: null,
      grounded: null,
      degraded: false,
      model: null,
      citations: [],
    };
  }

  get current(): AnswerState {
    return this.state;
  }

  /** The current stream URL (a renewed ticket replaces the first one). */
  get url(): string {
    return this.streamUrl;
  }

  start(): void {
    this.persist();
    if (this.ticketExpired()) {
      void this.renew();
    } else {
      this.open();
    }
    this.emit();
  }

  /** Stop listening (leaving the page). The saved state stays for a reload. */
  dispose(): void {
    this.disposed = true;
    this.closeSource();
    this.clearTimer();
  }

  // -- connection ---------------------------------------------------------------

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private ticketExpired(): boolean {
    return this.expiresAt !== null && this.now() >= this.expiresAt - EXPIRY_MARGIN_MS;
  }

  private open(): void {
    if (this.disposed) return;
    this.closeSource();
    const url = withLastEventId(this.streamUrl, this.state.lastEventId);
    const factory = this.options.createEventSource ?? defaultFactory;
    let source: EventSourceLike;
    try {
      source = factory(url);
    } catch {
      this.startPolling();
      return;
    }
    this.es = source;
    const guard = (handler: (event: Event) => void) => (event: Event) => {
      if (this.es === source && !this.disposed) handler(event);
    };
    source.addEventListener('message_chunk', guard((e) => this.onChunk(e)));
    source.addEventListener('message_complete', guard((e) => this.onComplete(e)));
    source.addEventListener('not_resumable', guard(() => this.onNotResumable()));
    // `error` is both the server's `event: error` (a MessageEvent with data)
    // and EventSource's own connection error (a plain Event).
    source.addEventListener('error', guard((e) => (parseData(e) ? this.onServerError(e) : this.onConnectionError(source))));
    source.addEventListener('open', guard(() => this.setPhase('live')));
  }

  private closeSource(): void {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  private onConnectionError(source: EventSourceLike): void {
    if (source.readyState === EVENT_SOURCE_CLOSED) {
      this.onClosed();
      return;
    }
    // The browser reconnects by itself, sending Last-Event-ID.
    this.dropsWithoutEvents += 1;
    if (this.dropsWithoutEvents > (this.options.maxDrops ?? 5)) {
      this.startPolling();
      return;
    }
    this.setPhase('reconnecting');
  }

  /** The EventSource gave up (an HTTP error: often an expired ticket). */
  private onClosed(): void {
    this.closeSource();
    this.closesWithoutEvents += 1;
    this.setPhase('reconnecting');
    if (this.closesWithoutEvents === 1 && !this.ticketExpired()) {
      this.schedule(() => (this.ticketExpired() ? void this.renew() : this.open()), this.options.reopenDelayMs ?? 500);
    } else if (this.renewals < (this.options.maxRenewals ?? 2)) {
      void this.renew();
    } else {
      this.startPolling();
    }
  }

  private async renew(): Promise<void> {
    this.renewals += 1;
    let ticket: StreamTicket | null = null;
    try {
      ticket = this.options.renewTicket ? await this.options.renewTicket() : null;
    } catch {
      ticket = null;
    }
    if (this.disposed || this.state.phase === 'done') return;
    if (!ticket) {
      this.startPolling();
      return;
    }
    this.streamUrl = ticket.stream_url;
    const expires = Date.parse(ticket.stream_expires_at);
    this.expiresAt = Number.isNaN(expires) ? null : expires;
    this.persist();
    this.open();
  }

  // -- events ---------------------------------------------------------------------

  private received(): void {
    this.closesWithoutEvents = 0;
    this.dropsWithoutEvents = 0;
    // A ticket that brought events worked: a later expiry may renew again.
    this.renewals = 0;
  }

  /** Whether an id-carrying event is new; advances the last applied id. */
  private accept(event: Event): boolean {
    const id = eventIdOf(event);
    if (!parseEventId(id)) return true; // no usable id: cannot be a replay we know of
    return isAfter(id, this.state.lastEventId);
  }

  private advance(event: Event): void {
    const id = eventIdOf(event);
    if (parseEventId(id) && isAfter(id, this.state.lastEventId)) this.state.lastEventId = id;
  }

  private onChunk(event: Event): void {
    this.received();
    if (!this.accept(event)) return;
    const data = parseData(event) ?? {};
    const base = this.replaceOnFirst ? '' : this.state.text;
    this.replaceOnFirst = false;
    const delta = typeof data.delta === 'string' ? data.delta : '';
    let text = base + delta;
    // `content` is the whole text so far: the server's word wins.
    if (typeof data.content === 'string' && data.content !== text) text = data.content;
    this.advance(event);
    this.state = { ...this.state, text, status: 'streaming', phase: 'live' };
    this.persist();
    this.emit();
  }

  private onComplete(event: Event): void {
    this.received();
    if (!this.accept(event)) return;
    this.replaceOnFirst = false;
    this.advance(event);
    const data = parseData(event) ?? {};
    const status = typeof data.status === 'string' && isTerminal(data.status) ? (data.status as MessageStatus) : 'completed';
    this.state = {
      ...this.state,
      text: typeof data.content === 'string' ? data.content : this.state.text,
      status,
      grounded: typeof data.grounded === 'boolean' ? data.grounded : this.state.grounded,
      degraded: data.degraded === true,
      model: typeof data.model === 'string' ? data.model : this.state.model,
      citations: citationsOf(data.citations),
      // A failure explained by an earlier error event keeps that error.
      error: status === 'completed' ? null : this.state.error,
    };
    this.finish();
  }

  private onServerError(event: Event): void {
    this.received();
    const data = parseData(event) ?? {};
    const code = typeof data.code === 'string' ? data.code : 'STREAM_ERROR';
    const message = typeof data.message === 'string' ? data.message : 'The answer could not be streamed.';
    // Id-less events inherit the last id: the pair identifies a repeat.
    const key = `${eventIdOf(event)}|${code}`;
    if (this.seenErrors.has(key)) return;
    this.seenErrors.add(key);
    this.advance(event);
    this.state = { ...this.state, error: { code, message } };
    if (ERRORS_BEFORE_COMPLETE.has(code)) {
      this.persist();
      this.emit();
      return;
    }
    // Anything else ends the live stream; the history has the outcome.
    this.startPolling();
  }

  private onNotResumable(): void {
    this.received();
    this.startPolling();
  }

  // -- polling the history ----------------------------------------------------------

  private startPolling(): void {
    if (this.disposed || this.state.phase === 'done' || this.state.phase === 'polling') return;
    this.closeSource();
    this.clearTimer();
    if (!this.options.pollMessage) {
      this.state = {
        ...this.state,
        status: isTerminal(this.state.status) ? this.state.status : 'failed',
        error: this.state.error ?? { code: 'STREAM_LOST', message: 'The live answer was interrupted.' },
      };
      this.finish();
      return;
    }
    this.pollStarted = this.now();
    this.pollDelay = this.options.pollIntervalMs ?? 1_000;
    this.setPhase('polling');
    void this.pollOnce();
  }

  private async pollOnce(): Promise<void> {
    if (this.disposed || this.state.phase !== 'polling') return;
    let message: HistoryMessage | null | undefined;
    try {
      message = await this.options.pollMessage!();
    } catch {
      message = undefined; // unreachable for now: try again
    }
    if (this.disposed || this.state.phase !== 'polling') return;
    if (message === null) {
      this.state = {
        ...this.state,
        status: 'failed',
        error: { code: 'NOT_FOUND', message: 'This answer is no longer available.' },
      };
      this.finish();
      return;
    }
    if (message && isTerminal(message.status)) {
      this.state = {
        ...this.state,
        text: message.content,
        status: message.status as MessageStatus,
        grounded: message.grounded ?? this.state.grounded,
        degraded: message.degraded ?? this.state.degraded,
        model: message.model ?? this.state.model,
        citations: citationsOf(message.citations),
        error: message.status === 'completed' ? null : this.state.error,
      };
      this.finish();
      return;
    }
    if (message && (message.status === 'pending' || message.status === 'streaming') && message.status !== this.state.status) {
      this.state = { ...this.state, status: message.status };
      this.emit();
    }
    if (this.now() - this.pollStarted >= (this.options.maxPollMs ?? 30 * 60_000)) {
      this.state = {
        ...this.state,
        phase: 'done',
        error: { code: 'STILL_RUNNING', message: 'The answer is taking long. Reload the page later to see it.' },
      };
      this.clearTimer();
      this.emit();
      return;
    }
    const delay = this.pollDelay;
    this.pollDelay = Math.min(Math.round(this.pollDelay * 1.5), this.options.maxPollIntervalMs ?? 5_000);
    this.schedule(() => void this.pollOnce(), delay);
  }

  // -- bookkeeping ---------------------------------------------------------------------

  private finish(): void {
    this.closeSource();
    this.clearTimer();
    this.state = { ...this.state, phase: 'done' };
    clearPersistedStream(this.options.conversationId, this.storage());
    this.emit();
  }

  private setPhase(phase: StreamPhase): void {
    if (this.state.phase === phase || this.state.phase === 'done') return;
    this.state = { ...this.state, phase };
    this.emit();
  }

  private schedule(fn: () => void, delay: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.disposed) fn();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private storage(): Storage | null {
    return this.options.storage === undefined ? defaultSessionStorage() : this.options.storage;
  }

  private persist(): void {
    if (this.state.phase === 'done') return;
    writePersistedStream(
      this.options.conversationId,
      {
        assistant_message_id: this.state.messageId,
        stream_url: this.streamUrl,
        stream_expires_at: this.expiresAt !== null ? new Date(this.expiresAt).toISOString() : null,
        last_event_id: this.state.lastEventId,
        text: this.state.text,
      },
      this.storage(),
    );
  }

  private emit(): void {
    if (!this.disposed) this.options.onUpdate(this.state);
  }
}
