/** The answers of one turn streamed over SSE, resumable without losing or
 * doubling a delta.
 *
 * The ai service speaks a turn's answers (one, or several speakers one
 * after another) into one Redis Stream and serves it as SSE:
 * `message_chunk {content, delta, message_id, speaker}` (content = that
 * answer's text so far), `message_complete {message_id, speaker, more,
 * content, status, grounded, citations, ...}` (`more: true`: another answer
 * of the turn follows in the same stream; the stream ends after the one
 * with `more: false`), `error {code, message}` and `not_resumable`. Events
 * without a `message_id` (older streams) belong to the turn's first answer.
 * Event ids are Redis stream ids (`<ms>-<seq>`), increasing across the whole
 * turn, so "after the last one applied" is exact:
 *
 * - every event whose id is not after the last applied one is ignored
 *   (a reconnect may replay some);
 * - EventSource reconnects by itself after a drop (sending Last-Event-ID);
 *   when it gives up (readyState CLOSED: the server answered an error such
 *   as an expired ticket) the stream is reopened with `last_event_id`, then
 *   with a fresh ticket (`renewTicket`), and as a last resort the history is
 *   polled (`pollMessage`, answer by answer) until every answer has ended;
 * - while it streams, `{assistant_message_id, stream_url, last_event_id,
 *   text, answers}` is kept in sessionStorage per conversation, so a reload
 *   can reopen the stream from the start and rebuild the texts (`fromStart`).
 */

import type { Citation, MessageSpeaker, MessageStatus, StreamTicket } from './types';

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

// -- speakers ----------------------------------------------------------------------------

/** A well-formed speaker of an event or a message; null for anything else. */
export function speakerOf(value: unknown): MessageSpeaker | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (v.kind !== 'user' && v.kind !== 'character' && v.kind !== 'narrator') return null;
  return {
    kind: v.kind,
    character_id: typeof v.character_id === 'string' && v.character_id ? v.character_id : null,
    name: typeof v.name === 'string' ? v.name : '',
  };
}

// -- sessionStorage ----------------------------------------------------------------------

export interface PersistedAnswer {
  message_id: string;
  speaker: MessageSpeaker | null;
  text: string;
}

export interface PersistedStream {
  /** The turn's first answer (events without a `message_id` are its). */
  assistant_message_id: string;
  stream_url: string;
  stream_expires_at: string | null;
  last_event_id: string | null;
  /** The first answer's text so far. */
  text: string;
  /** Every answer of the turn in speaking order, with its text so far
   * (read back, a stream saved without it is its first answer alone). */
  answers?: PersistedAnswer[];
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

function persistedAnswers(raw: unknown): PersistedAnswer[] {
  if (!Array.isArray(raw)) return [];
  const out: PersistedAnswer[] = [];
  for (const item of raw as unknown[]) {
    if (!item || typeof item !== 'object') continue;
    const a = item as Record<string, unknown>;
    if (typeof a.message_id !== 'string' || !a.message_id || out.some((x) => x.message_id === a.message_id)) continue;
    out.push({ message_id: a.message_id, speaker: speakerOf(a.speaker), text: typeof a.text === 'string' ? a.text : '' });
  }
  return out;
}

export function readPersistedStream(
  conversationId: string,
  storage: Storage | null = defaultSessionStorage(),
): (PersistedStream & { answers: PersistedAnswer[] }) | null {
  try {
    const raw = storage?.getItem(streamStorageKey(conversationId));
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Record<keyof PersistedStream, unknown>>;
    if (typeof value.assistant_message_id !== 'string' || typeof value.stream_url !== 'string') return null;
    const text = typeof value.text === 'string' ? value.text : '';
    const answers = persistedAnswers(value.answers);
    return {
      assistant_message_id: value.assistant_message_id,
      stream_url: value.stream_url,
      stream_expires_at: typeof value.stream_expires_at === 'string' ? value.stream_expires_at : null,
      last_event_id: typeof value.last_event_id === 'string' ? value.last_event_id : null,
      text,
      answers: answers.length ? answers : [{ message_id: value.assistant_message_id, speaker: null, text }],
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

/** On load: whether a saved in-progress turn should be resumed, given its
 * messages as the history has them (one or all; missing: not in the
 * history): yes while one of its answers is still pending or streaming. */
export function shouldResume(
  saved: PersistedStream | null,
  history: { id: string; status: string } | readonly { id: string; status: string }[] | null | undefined,
): boolean {
  if (!saved || !history) return false;
  const list: readonly { id: string; status: string }[] = Array.isArray(history)
    ? (history as readonly { id: string; status: string }[])
    : [history as { id: string; status: string }];
  const ids = new Set(saved.answers?.length ? saved.answers.map((a) => a.message_id) : [saved.assistant_message_id]);
  return list.some((m) => ids.has(m.id) && !isTerminal(m.status));
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

/** One answer of the turn, as shown. `phase` is the stream's while the
 * answer goes on, 'done' once it has ended; `lastEventId` is the stream's. */
export interface AnswerState {
  messageId: string;
  /** Who speaks it (from the turn, then from its events); null when unknown. */
  speaker: MessageSpeaker | null;
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
  speaker?: MessageSpeaker | null;
}

/** An answer of the turn the stream starts with. */
export interface TurnAnswerStart {
  messageId: string;
  speaker?: MessageSpeaker | null;
  /** Text already shown (replaced by the first event when `fromStart`). */
  text?: string;
  /** As the history has it: an answer already ended is left as it is. */
  status?: MessageStatus;
}

export interface AnswerStreamOptions {
  conversationId: string;
  /** The turn's first answer: events without a `message_id` are its. */
  assistantMessageId: string;
  /** Every answer of the turn, in speaking order (default: the first alone,
   * with `text` and `status`). Events of other answers are skipped. */
  answers?: TurnAnswerStart[];
  streamUrl: string;
  streamExpiresAt?: string | null;
  /** Reload: read the stream from its first event and rebuild the texts;
   * the texts given are shown until each answer's first event replaces it. */
  fromStart?: boolean;
  /** The first answer's text already shown (without `answers`). */
  text?: string;
  /** Resume after this id (ignored when fromStart). */
  lastEventId?: string | null;
  /** The first answer's status (without `answers`). */
  status?: MessageStatus;
  /** Called with an answer's state whenever it changes. */
  onUpdate: (state: AnswerState) => void;
  /** A fresh ticket for the turn's stream; null when none can be had (404). */
  renewTicket?: () => Promise<StreamTicket | null>;
  /** An answer as the history has it; null when it is gone. */
  pollMessage?: (messageId: string) => Promise<HistoryMessage | null>;
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

interface Slot {
  /** Without the stream-wide `phase` and `lastEventId` (see `view`). */
  state: AnswerState;
  /** Ended (completed, cancelled or failed): its events are skipped. */
  done: boolean;
  /** Ended before the stream started: never reported. */
  settled: boolean;
}

export class AnswerStream {
  private readonly options: AnswerStreamOptions;
  private readonly slots: Slot[];
  private readonly firstId: string;
  private lastEventId: string | null;
  private phase: StreamPhase = 'connecting';
  private streamUrl: string;
  private expiresAt: number | null;
  private es: EventSourceLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** After a reload (`fromStart`): the answers whose shown text their first event replaces. */
  private readonly replaceOnFirst = new Set<string>();
  /** The answer that spoke last: an error without a `message_id` is its. */
  private speaking: string | null = null;
  /** Answers changed since they were last reported. */
  private readonly dirty = new Set<string>();
  private closesWithoutEvents = 0;
  private dropsWithoutEvents = 0;
  private renewals = 0;
  private pollStarted = 0;
  private pollDelay = 0;
  private readonly seenErrors = new Set<string>();
  private disposed = false;

  constructor(options: AnswerStreamOptions) {
    this.options = options;
    this.firstId = options.assistantMessageId;
    this.streamUrl = options.streamUrl;
    this.expiresAt = options.streamExpiresAt ? Date.parse(options.streamExpiresAt) : null;
    if (this.expiresAt !== null && Number.isNaN(this.expiresAt)) this.expiresAt = null;
    this.lastEventId = options.fromStart ? null : (options.lastEventId ?? null);
    const starts: TurnAnswerStart[] = options.answers?.length
      ? options.answers
      : [{ messageId: options.assistantMessageId, text: options.text, status: options.status }];
    this.slots = [];
    for (const start of starts) {
      if (this.slots.some((s) => s.state.messageId === start.messageId)) continue;
      const settled = isTerminal(start.status);
      this.slots.push({
        done: settled,
        settled,
        state: {
          messageId: start.messageId,
          speaker: start.speaker ?? null,
          text: start.text ?? '',
          status: start.status ?? 'pending',
          lastEventId: null,
          phase: 'connecting',
          error: null,
          grounded: null,
          degraded: false,
          model: null,
          citations: [],
        },
      });
      if (options.fromStart && !settled) this.replaceOnFirst.add(start.messageId);
    }
  }

  /** The answer the stream is on: the first not ended yet, else the last. */
  get current(): AnswerState {
    return this.view(this.slots.find((s) => !s.done) ?? this.slots[this.slots.length - 1]);
  }

  /** Every answer of the turn, in speaking order. */
  get states(): AnswerState[] {
    return this.slots.map((s) => this.view(s));
  }

  stateOf(messageId: string): AnswerState | undefined {
    const slot = this.slot(messageId);
    return slot ? this.view(slot) : undefined;
  }

  /** The current stream URL (a renewed ticket replaces the first one). */
  get url(): string {
    return this.streamUrl;
  }

  start(): void {
    if (this.slots.every((s) => s.done)) {
      // Nothing left to listen for.
      this.phase = 'done';
      return;
    }
    this.persist();
    if (this.ticketExpired()) {
      void this.renew();
    } else {
      this.open();
    }
    this.touchUnended();
    this.flush();
  }

  /** Stop listening (leaving the page). The saved state stays for a reload. */
  dispose(): void {
    this.disposed = true;
    this.closeSource();
    this.clearTimer();
  }

  // -- answers --------------------------------------------------------------------------------

  private view(slot: Slot): AnswerState {
    return { ...slot.state, lastEventId: this.lastEventId, phase: slot.done ? 'done' : this.phase };
  }

  private slot(messageId: string): Slot | undefined {
    return this.slots.find((s) => s.state.messageId === messageId);
  }

  private unended(): Slot[] {
    return this.slots.filter((s) => !s.done);
  }

  /** The answer an event is about: its `message_id`, else the first answer. */
  private slotOf(data: Record<string, unknown>): Slot | undefined {
    return this.slot(typeof data.message_id === 'string' && data.message_id ? data.message_id : this.firstId);
  }

  private update(slot: Slot, change: Partial<AnswerState>, done = slot.done): void {
    slot.state = { ...slot.state, ...change };
    slot.done = done;
    this.dirty.add(slot.state.messageId);
  }

  /** Every answer still going on is reported again (the stream's phase changed). */
  private touchUnended(): void {
    for (const slot of this.unended()) this.dirty.add(slot.state.messageId);
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
    const url = withLastEventId(this.streamUrl, this.lastEventId);
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
    if (this.disposed || this.phase === 'done') return;
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

  /** Whether an id-carrying event is new (ids increase across the whole turn). */
  private accept(event: Event): boolean {
    const id = eventIdOf(event);
    if (!parseEventId(id)) return true; // no usable id: cannot be a replay we know of
    return isAfter(id, this.lastEventId);
  }

  private advance(event: Event): void {
    const id = eventIdOf(event);
    if (parseEventId(id) && isAfter(id, this.lastEventId)) this.lastEventId = id;
  }

  private onChunk(event: Event): void {
    this.received();
    if (!this.accept(event)) return;
    this.advance(event);
    const data = parseData(event) ?? {};
    const slot = this.slotOf(data);
    if (slot && !slot.done) {
      const id = slot.state.messageId;
      const base = this.replaceOnFirst.has(id) ? '' : slot.state.text;
      this.replaceOnFirst.delete(id);
      const delta = typeof data.delta === 'string' ? data.delta : '';
      let text = base + delta;
      // `content` is the answer's whole text so far: the server's word wins.
      if (typeof data.content === 'string' && data.content !== text) text = data.content;
      this.speaking = id;
      this.update(slot, { text, status: 'streaming', speaker: speakerOf(data.speaker) ?? slot.state.speaker });
    }
    // Else an answer of the turn not followed here (ended before), or one ended.
    if (this.phase !== 'live' && this.phase !== 'done') {
      this.phase = 'live';
      this.touchUnended();
    }
    this.persist();
    this.flush();
  }

  private onComplete(event: Event): void {
    this.received();
    if (!this.accept(event)) return;
    this.advance(event);
    const data = parseData(event) ?? {};
    const slot = this.slotOf(data);
    if (slot && !slot.done) {
      this.replaceOnFirst.delete(slot.state.messageId);
      const status = typeof data.status === 'string' && isTerminal(data.status) ? (data.status as MessageStatus) : 'completed';
      this.update(
        slot,
        {
          text: typeof data.content === 'string' ? data.content : slot.state.text,
          status,
          speaker: speakerOf(data.speaker) ?? slot.state.speaker,
          grounded: typeof data.grounded === 'boolean' ? data.grounded : slot.state.grounded,
          degraded: data.degraded === true,
          model: typeof data.model === 'string' ? data.model : slot.state.model,
          citations: citationsOf(data.citations),
          // A failure explained by an earlier error event keeps that error.
          error: status === 'completed' ? null : slot.state.error,
        },
        true,
      );
    }
    const open = this.unended();
    if (open.length === 0) {
      this.finish();
    } else if (data.more === true) {
      // The next answer of the turn follows in this stream.
      this.persist();
      this.flush();
    } else {
      // The stream has ended without them: the history has their outcome.
      this.startPolling();
    }
  }

  /** The answer an error is about: its `message_id`, else the one speaking, else the next. */
  private errorSlot(data: Record<string, unknown>): Slot | undefined {
    const named = typeof data.message_id === 'string' ? this.slot(data.message_id) : undefined;
    if (named && !named.done) return named;
    const speaking = this.speaking ? this.slot(this.speaking) : undefined;
    if (speaking && !speaking.done) return speaking;
    return this.unended()[0];
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
    const error = { code, message };
    if (ERRORS_BEFORE_COMPLETE.has(code)) {
      const slot = this.errorSlot(data);
      if (slot) this.update(slot, { error });
      this.persist();
      this.flush();
      return;
    }
    // Anything else ends the live stream for every answer still going on;
    // the history has their outcome.
    for (const slot of this.unended()) this.update(slot, { error });
    this.startPolling();
  }

  private onNotResumable(): void {
    this.received();
    this.startPolling();
  }

  // -- polling the history ----------------------------------------------------------

  private startPolling(): void {
    if (this.disposed || this.phase === 'done' || this.phase === 'polling') return;
    this.closeSource();
    this.clearTimer();
    if (!this.options.pollMessage) {
      for (const slot of this.unended()) {
        this.update(
          slot,
          {
            status: isTerminal(slot.state.status) ? slot.state.status : 'failed',
            error: slot.state.error ?? { code: 'STREAM_LOST', message: 'The live answer was interrupted.' },
          },
          true,
        );
      }
      this.finish();
      return;
    }
    this.pollStarted = this.now();
    this.pollDelay = this.options.pollIntervalMs ?? 1_000;
    this.setPhase('polling');
    void this.pollOnce();
  }

  /** Asks for the answers still going on, in speaking order, up to the
   * first one still running (the ones after it cannot have ended before it). */
  private async pollOnce(): Promise<void> {
    if (this.disposed || this.phase !== 'polling') return;
    for (const slot of this.unended()) {
      let message: HistoryMessage | null | undefined;
      try {
        message = await this.options.pollMessage!(slot.state.messageId);
      } catch {
        message = undefined; // unreachable for now: try again
      }
      if (this.disposed || this.phase !== 'polling') return;
      if (message === null) {
        this.update(slot, { status: 'failed', error: { code: 'NOT_FOUND', message: 'This answer is no longer available.' } }, true);
        continue;
      }
      if (message && isTerminal(message.status)) {
        this.update(
          slot,
          {
            text: message.content,
            status: message.status as MessageStatus,
            speaker: message.speaker ?? slot.state.speaker,
            grounded: message.grounded ?? slot.state.grounded,
            degraded: message.degraded ?? slot.state.degraded,
            model: message.model ?? slot.state.model,
            citations: citationsOf(message.citations),
            error: message.status === 'completed' ? null : slot.state.error,
          },
          true,
        );
        continue;
      }
      if (message && (message.status === 'pending' || message.status === 'streaming') && message.status !== slot.state.status) {
        this.update(slot, { status: message.status });
      }
      break;
    }
    if (this.unended().length === 0) {
      this.finish();
      return;
    }
    if (this.now() - this.pollStarted >= (this.options.maxPollMs ?? 30 * 60_000)) {
      for (const slot of this.unended()) {
        this.update(slot, { error: { code: 'STILL_RUNNING', message: 'The answer is taking long. Reload the page later to see it.' } });
      }
      this.phase = 'done';
      this.clearTimer();
      this.flush();
      return;
    }
    this.flush();
    const delay = this.pollDelay;
    this.pollDelay = Math.min(Math.round(this.pollDelay * 1.5), this.options.maxPollIntervalMs ?? 5_000);
    this.schedule(() => void this.pollOnce(), delay);
  }

  // -- bookkeeping ---------------------------------------------------------------------

  private finish(): void {
    this.closeSource();
    this.clearTimer();
    this.phase = 'done';
    clearPersistedStream(this.options.conversationId, this.storage());
    this.flush();
  }

  private setPhase(phase: StreamPhase): void {
    if (this.phase === phase || this.phase === 'done') return;
    this.phase = phase;
    this.touchUnended();
    this.flush();
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
    if (this.phase === 'done') return;
    const first = this.slot(this.firstId);
    writePersistedStream(
      this.options.conversationId,
      {
        assistant_message_id: this.firstId,
        stream_url: this.streamUrl,
        stream_expires_at: this.expiresAt !== null ? new Date(this.expiresAt).toISOString() : null,
        last_event_id: this.lastEventId,
        text: first?.state.text ?? '',
        answers: this.slots.map((s) => ({ message_id: s.state.messageId, speaker: s.state.speaker, text: s.state.text })),
      },
      this.storage(),
    );
  }

  /** Reports every answer changed since the last report, in speaking order. */
  private flush(): void {
    if (this.disposed) {
      this.dirty.clear();
      return;
    }
    const changed = this.slots.filter((s) => this.dirty.has(s.state.messageId) && !s.settled);
    this.dirty.clear();
    for (const slot of changed) this.options.onUpdate(this.view(slot));
  }
}
