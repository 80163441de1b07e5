/** A conversation: its history, the live turn (one or several answers
 * streamed in one resumable stream), stop/regenerate, "continue the scene",
 * the scene's cast, "why this answer?", likes, a private memo, forks and the
 * fork tree. */

import { MEMO_MAX, MESSAGE_MAX } from '../api/rules';
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Markdown, UserLink, fieldErrorId } from '../components/common';
import { MemoryPanel } from '../components/MemoryPanel';
import { PromptPanel } from '../components/PromptPanel';
import { TypeBadge } from '../components/ScenarioCard';
import { ScenePanel } from '../components/ScenePanel';
import { ConversationBrief } from '../components/Timeline';
import { ApiError } from '../lib/api';
import { findMessage } from '../lib/endpoints';
import { formatDateTime, plural, speakerName } from '../lib/format';
import { summarize } from '../lib/scenarioSchema';
import { useApi, useResource, useSession } from '../lib/session';
import {
  AnswerStream,
  clearPersistedStream,
  isTerminal,
  readPersistedStream,
  shouldResume,
  type AnswerState,
  type HistoryMessage,
  type TurnAnswerStart,
} from '../lib/stream';
import type { Cast, ChatMessage, ChatTurn, Citation, Conversation, MessageSpeaker, SpeakerInput } from '../lib/types';

const MAX_MESSAGE = MESSAGE_MAX;
const MAX_MEMO = MEMO_MAX;
/** Speakers one turn may name. */
const MAX_SPEAKERS = 3;
/** The memory is written just after a turn's stream ends: read it again then, and once more a little later. */
const MEMORY_SETTLE_MS = 5000;

const READER: MessageSpeaker = { kind: 'user', character_id: null, name: '' };

interface StreamStart {
  /** The turn's first answer. */
  assistantMessageId: string;
  answers: TurnAnswerStart[];
  streamUrl: string;
  streamExpiresAt: string | null;
  fromStart?: boolean;
}

/** How a turn came about: the reader's message, the scene going on, or an answer again. */
type TurnOrigin = { kind: 'send'; content: string } | { kind: 'continue' } | { kind: 'regenerate' };

/** The answers of a turn in speaking order (a core without `answers`: the one answer). */
function answersOf(turn: ChatTurn): { message_id: string; speaker: MessageSpeaker | null }[] {
  return turn.answers?.length ? turn.answers : [{ message_id: turn.assistant_message_id, speaker: null }];
}

function inProgress(message: ChatMessage, live: AnswerState | undefined): boolean {
  return message.role === 'assistant' && !isTerminal(live?.status ?? message.status);
}

export function ConversationPage() {
  const { id = '' } = useParams();
  const api = useApi();
  const { user } = useSession();
  const conv = useResource((signal) => api.conversation(id, signal), [id]);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  const [answers, setAnswers] = useState<Record<string, AnswerState>>({});
  const [actionError, setActionError] = useState<unknown>(null);
  const [stopping, setStopping] = useState(false);
  const streamRef = useRef<AnswerStream | null>(null);
  const data = conv.data;
  const isOwner = !!user && !!data && user.id === data.user_id;
  const cast = useResource((signal) => api.cast(id, signal), [id]);
  const scenarioId = data?.scenario_id ?? null;
  const scenario = useResource(isOwner && scenarioId ? (signal) => api.scenario(scenarioId, signal) : null, [isOwner, scenarioId]);
  const novelId = scenario.data?.novel_id ?? null;
  const characters = useResource(novelId ? (signal) => api.characters(novelId, signal) : null, [novelId]);

  const startStream = useCallback(
    (start: StreamStart) => {
      streamRef.current?.dispose();
      const stream = new AnswerStream({
        conversationId: id,
        assistantMessageId: start.assistantMessageId,
        answers: start.answers,
        streamUrl: start.streamUrl,
        streamExpiresAt: start.streamExpiresAt,
        fromStart: start.fromStart,
        renewTicket: async () => {
          try {
            // Any answer of the turn has the turn's stream.
            return await api.streamTicket(id, start.assistantMessageId);
          } catch (err) {
            if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
            throw err;
          }
        },
        pollMessage: async (messageId): Promise<HistoryMessage | null> => {
          const message = await findMessage(api, id, messageId);
          return message
            ? {
                status: message.status,
                content: message.content,
                grounded: message.grounded,
                degraded: message.degraded,
                model: message.model,
                citations: message.citations,
                speaker: message.speaker,
              }
            : null;
        },
        onUpdate: (state) => {
          setAnswers((all) => ({ ...all, [state.messageId]: state }));
          if (state.phase === 'done') {
            setMessages((all) =>
              all.map((m) =>
                m.id === state.messageId
                  ? {
                      ...m,
                      content: state.text,
                      status: state.status,
                      speaker: state.speaker ?? m.speaker,
                      grounded: state.grounded ?? m.grounded,
                      degraded: state.degraded || m.degraded,
                      citations: state.citations,
                    }
                  : m,
              ),
            );
          }
        },
      });
      streamRef.current = stream;
      stream.start();
    },
    [api, id],
  );

  // A (re)loaded history: take it, and resume a turn still in progress.
  useEffect(() => {
    if (!data) return;
    setMessages(data.messages);
    setHasOlder(data.messages_truncated);
    setAnswers({});
    const saved = readPersistedStream(id);
    if (saved && shouldResume(saved, data.messages)) {
      // Reload mid-turn: read the stream from its start and rebuild the texts
      // (answers the history has as ended are left as they are).
      const byId = new Map(data.messages.map((m) => [m.id, m]));
      startStream({
        assistantMessageId: saved.assistant_message_id,
        answers: saved.answers.map((a) => {
          const known = byId.get(a.message_id);
          const ended = !!known && isTerminal(known.status);
          return {
            messageId: a.message_id,
            speaker: a.speaker ?? known?.speaker ?? null,
            text: ended ? known.content : a.text,
            status: known?.status,
          };
        }),
        streamUrl: saved.stream_url,
        streamExpiresAt: saved.stream_expires_at,
        fromStart: true,
      });
    } else {
      if (saved) clearPersistedStream(id);
      const open = data.messages.filter((m) => inProgress(m, undefined));
      if (open.length) {
        // A turn in progress started elsewhere: a fresh ticket (owner),
        // else the history until it ends.
        startStream({
          assistantMessageId: open[0].id,
          answers: open.map((m) => ({ messageId: m.id, speaker: m.speaker ?? null, text: m.content, status: m.status })),
          streamUrl: '',
          streamExpiresAt: new Date(0).toISOString(),
          fromStart: true,
        });
      }
    }
    return () => {
      streamRef.current?.dispose();
      streamRef.current = null;
    };
  }, [data, id, startStream]);

  const loadOlder = async () => {
    if (!messages.length) return;
    try {
      const page = await api.messages(id, { before: messages[0].id, size: 50 });
      setMessages((all) => [...page.content.filter((m) => !all.some((x) => x.id === m.id)), ...all]);
      setHasOlder(!!page.cursors.older);
    } catch (err) {
      setActionError(err);
    }
  };

  /** The answers still going on, in speaking order (one turn at a time). */
  const activeIds = messages.filter((m) => inProgress(m, answers[m.id])).map((m) => m.id);
  const active = activeIds.length > 0;

  useEffect(() => {
    if (!active) setStopping(false);
  }, [active]);

  // "What they know" reads the memory again when a turn ends.
  const [memoryOpen, setMemoryOpen] = useState(false);
  const [memoryKey, setMemoryKey] = useState(0);
  const wasActive = useRef(false);
  useEffect(() => {
    const ended = wasActive.current && !active;
    wasActive.current = active;
    if (!ended) return;
    setMemoryKey((k) => k + 1);
    const later = setTimeout(() => setMemoryKey((k) => k + 1), MEMORY_SETTLE_MS);
    return () => clearTimeout(later);
  }, [active]);

  /** A turn accepted: every answer appears at once, as a placeholder with its speaker. */
  const onTurn = (turn: ChatTurn, origin: TurnOrigin) => {
    const turnAnswers = answersOf(turn);
    setStopping(false);
    // An answer generated again forgets how its last stream ended.
    setAnswers((all) => Object.fromEntries(Object.entries(all).filter(([mid]) => !turnAnswers.some((a) => a.message_id === mid))));
    setMessages((all) => {
      if (origin.kind === 'regenerate') {
        return all.map((m) => {
          const again = turnAnswers.find((a) => a.message_id === m.id);
          return again
            ? { ...m, content: '', status: 'pending' as const, citations: [], grounded: null, speaker: again.speaker ?? m.speaker }
            : m;
        });
      }
      const ids = new Set<string | null>([turn.message_id, ...turnAnswers.map((a) => a.message_id)]);
      const added: ChatMessage[] = [];
      if (origin.kind === 'send') {
        added.push({ id: turn.message_id ?? '', role: 'user', content: origin.content, status: 'completed', speaker: READER });
      }
      for (const a of turnAnswers) {
        added.push({ id: a.message_id, role: 'assistant', content: '', status: 'pending', ...(a.speaker ? { speaker: a.speaker } : {}) });
      }
      return [...all.filter((m) => !ids.has(m.id)), ...added];
    });
    startStream({
      assistantMessageId: turn.assistant_message_id,
      answers: turnAnswers.map((a) => ({ messageId: a.message_id, speaker: a.speaker, text: '' })),
      streamUrl: turn.stream_url,
      streamExpiresAt: turn.stream_expires_at,
    });
  };

  /** Stop stops the whole turn: cancelling any of its answers does; one
   * ended meanwhile (409) passes the request on to the next. */
  const stopTurn = async () => {
    setStopping(true);
    for (const messageId of activeIds) {
      try {
        await api.cancelMessage(id, messageId);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) continue;
        setStopping(false);
        setActionError(err);
        return;
      }
    }
  };

  if (conv.loading && !data) return <Loading />;
  if (!data) return <ErrorBanner error={conv.error} onRetry={conv.reload} />;

  return (
    <article className="conversation" data-testid="conversation" data-id={data.id}>
      <ConversationHeader conversation={data} />
      <div className="conversation-layout">
        <div className="chat-column">
          <ConversationBrief scenarioId={data.scenario_id} />
          <section aria-label="Messages" className="messages">
            {hasOlder && (
              <button type="button" className="secondary small" onClick={loadOlder} data-testid="load-older">
                Load earlier messages
              </button>
            )}
            {messages.length === 0 && <Empty>No messages yet. {isOwner ? 'Say something to begin.' : ''}</Empty>}
            <ol className="message-list">
              {messages.map((m) => (
                <MessageItem
                  key={m.id}
                  message={m}
                  live={answers[m.id]}
                  canRegenerate={isOwner && !active}
                  canStop={isOwner && m.id === activeIds[0]}
                  canInspect={isOwner}
                  stopping={stopping}
                  onStop={stopTurn}
                  conversationId={id}
                  onRegenerated={(turn) => onTurn(turn, { kind: 'regenerate' })}
                  onError={setActionError}
                />
              ))}
            </ol>
          </section>
          <ErrorBanner error={actionError} />
          {isOwner ? (
            <Composer
              conversation={data}
              cast={cast.data}
              busy={active}
              onTurn={(turn, origin) => {
                setActionError(null);
                onTurn(turn, origin);
              }}
              onKeptButFailed={(err) => {
                setActionError(err);
                conv.reload();
              }}
            />
          ) : (
            <p className="muted">
              {user ? 'Only the conversation’s owner can write here. Fork it to continue it your way.' : 'Log in to like, fork or keep a memo.'}
            </p>
          )}
        </div>
        <aside className="side-column">
          <ScenePanel
            conversationId={id}
            cast={cast}
            characters={characters.data ?? []}
            charactersUnavailable={!!characters.error}
            canEdit={isOwner}
          />
          {isOwner && (
            <>
              <button
                type="button"
                className="secondary memory-toggle"
                aria-expanded={memoryOpen}
                aria-controls={memoryOpen ? 'memory-panel' : undefined}
                onClick={() => setMemoryOpen((open) => !open)}
                data-testid="memory-toggle"
              >
                What they know
              </button>
              {memoryOpen && <MemoryPanel conversationId={id} canEdit={isOwner} refreshKey={memoryKey} />}
            </>
          )}
          {user && <LikeBox conversationId={id} initialCount={data.like_count} />}
          {user && !data.is_fork && <ForkConversation conversationId={id} />}
          {user && <MemoBox conversationId={id} />}
          <ConversationTree conversationId={id} parentId={data.parent_conversation_id} />
        </aside>
      </div>
    </article>
  );
}

function ConversationHeader({ conversation }: { conversation: Conversation }) {
  const s = conversation.scenario;
  return (
    <header className="page-header">
      <h1>{conversation.title}</h1>
      <p className="muted small">
        by <UserLink username={conversation.user.username} /> · {plural(conversation.message_count, 'message')} · {s.base_story} ·{' '}
        <TypeBadge type={s.scenario_type} />{' '}
        {s.is_deleted ? (
          <span className="muted">(scenario deleted)</span>
        ) : (
          <Link to={`/scenarios/${s.id}`}>{summarize(s.scenario_type, s.parameters)}</Link>
        )}
      </p>
      {conversation.is_fork && conversation.parent_conversation_id && (
        <p>
          Forked from <Link to={`/conversations/${conversation.parent_conversation_id}`}>the original conversation</Link>
        </p>
      )}
    </header>
  );
}

function statusWords(status: string, name: string, phase?: string): string {
  if (phase === 'reconnecting') return 'Reconnecting…';
  if (phase === 'polling') return 'Waiting for the answer…';
  switch (status) {
    case 'pending':
      return `Waiting for ${name}…`;
    case 'streaming':
      return `${name} is speaking…`;
    case 'failed':
      return 'This answer failed.';
    case 'cancelled':
      return 'Stopped.';
    default:
      return '';
  }
}

function MessageItem({
  message,
  live,
  canRegenerate,
  canStop,
  canInspect,
  stopping,
  onStop,
  conversationId,
  onRegenerated,
  onError,
}: {
  message: ChatMessage;
  live: AnswerState | undefined;
  canRegenerate: boolean;
  /** The Stop of the turn (shown on its first answer still going on). */
  canStop: boolean;
  /** "Why this answer?" (the owner). */
  canInspect: boolean;
  stopping: boolean;
  onStop: () => void;
  conversationId: string;
  onRegenerated: (turn: ChatTurn) => void;
  onError: (error: unknown) => void;
}) {
  const api = useApi();
  const [regenerating, setRegenerating] = useState(false);
  const [inspecting, setInspecting] = useState(false);
  const isAssistant = message.role === 'assistant';
  const streaming = !!live && live.phase !== 'done';
  const status = streaming ? live.status : message.status;
  const text = streaming ? live.text : message.content;
  const going = !isTerminal(status);
  const name = speakerName(live?.speaker ?? message.speaker);

  useEffect(() => {
    if (going) setInspecting(false);
  }, [going]);

  if (!isAssistant) {
    return (
      <li className="message user-message" data-testid="user-message" data-id={message.id}>
        <p className="speaker">You</p>
        <Markdown text={message.content} testId="message-content" />
      </li>
    );
  }

  const regenerate = async () => {
    setRegenerating(true);
    try {
      onRegenerated(await api.regenerateMessage(conversationId, message.id));
    } catch (err) {
      onError(err);
    } finally {
      setRegenerating(false);
    }
  };

  return (
    <li
      className={`message assistant-message status-${status}`}
      data-testid="assistant-message"
      data-status={status}
      data-id={message.id}
      aria-live="polite"
      aria-busy={going}
    >
      <p className="speaker">
        <span data-testid="speaker-name">{name}</span>{' '}
        {message.grounded === true && <span className="badge grounded" title="Passages of the novel reached the model">grounded</span>}
        {message.grounded === false && status === 'completed' && (
          <span className="badge" title="No passages of the novel were used">not grounded</span>
        )}
        {(message.degraded || live?.degraded) && <span className="badge" title="Answered by the fallback model">fallback model</span>}
      </p>
      {text ? <Markdown text={text} testId="message-content" /> : going ? null : <p className="muted">(no text)</p>}
      {(going || status === 'failed' || status === 'cancelled') && (
        <p className="message-status muted small" role="status" data-testid="message-status">
          {statusWords(status, name, live?.phase)}
        </p>
      )}
      {live?.error && (status === 'failed' || live.phase !== 'done' || live.error.code === 'STILL_RUNNING') && (
        <p className="stream-error small" role="alert">
          {live.error.message}
        </p>
      )}
      {!going && text && message.citations && message.citations.length > 0 && <Sources citations={message.citations} />}
      <div className="message-actions">
        {canStop && going && (
          <button type="button" className="secondary small" onClick={onStop} disabled={stopping} data-testid="stop-button">
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
        {canRegenerate && (status === 'failed' || status === 'cancelled') && (
          <button type="button" className="secondary small" onClick={regenerate} disabled={regenerating} data-testid="regenerate-button">
            {regenerating ? 'Regenerating…' : 'Regenerate'}
          </button>
        )}
        {canInspect && !going && (
          <button
            type="button"
            className="link-button small"
            aria-expanded={inspecting}
            onClick={() => setInspecting((open) => !open)}
            data-testid="why-link"
          >
            Why this answer?
          </button>
        )}
      </div>
      {inspecting && !going && <PromptPanel conversationId={conversationId} messageId={message.id} />}
    </li>
  );
}

/** "Ch. 6 — Chapter 6: “It is a truth…”" */
function citationLabel(citation: Citation): string {
  const title = citation.chapter_title.trim();
  return `Ch. ${citation.chapter}${title ? ` — ${title}` : ''}: “${citation.quote}”`;
}

/** The passages of the novel an answer is grounded in, in the order the prompt numbered them. */
function Sources({ citations }: { citations: Citation[] }) {
  return (
    <section className="citations" aria-label="Sources" data-testid="sources">
      <p className="small muted">Sources</p>
      <ol>
        {citations.map((c, i) => (
          <li key={`${c.passage_id}-${i}`} className="small" data-testid="source">
            {citationLabel(c)}
          </li>
        ))}
      </ol>
    </section>
  );
}

interface SpeakerChoice {
  key: string;
  label: string;
  input: SpeakerInput;
}

/** Who may be picked to answer: the scene's members, then the narrator. */
function speakerChoices(cast: Cast | undefined): SpeakerChoice[] {
  const members = (cast?.members ?? []).map(
    (m): SpeakerChoice =>
      m.character_id
        ? { key: `id:${m.character_id}`, label: m.name, input: { kind: 'character', character_id: m.character_id } }
        : { key: `name:${m.name.toLowerCase()}`, label: m.name, input: { kind: 'character', name: m.name } },
  );
  return [...members, { key: 'narrator', label: 'Narrator', input: { kind: 'narrator' } }];
}

/** Errors about `speakers` ("speakers", "speakers.1.character_id", ...) as one list. */
function speakerErrors(details: Record<string, string[]>): string[] | undefined {
  const messages = Object.entries(details)
    .filter(([key]) => key === 'speakers' || key.startsWith('speakers.'))
    .flatMap(([, list]) => list);
  return messages.length ? messages : undefined;
}

function Composer({
  conversation,
  cast,
  busy,
  onTurn,
  onKeptButFailed,
}: {
  conversation: Conversation;
  cast: Cast | undefined;
  busy: boolean;
  onTurn: (turn: ChatTurn, origin: TurnOrigin) => void;
  onKeptButFailed: (error: unknown) => void;
}) {
  const api = useApi();
  const [content, setContent] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [sending, setSending] = useState<'send' | 'continue' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const choices = speakerChoices(cast);
  // Picks of members since removed from the scene are dropped.
  const chosen = picked.map((key) => choices.find((c) => c.key === key)).filter((c): c is SpeakerChoice => !!c);
  const speakers = chosen.length ? chosen.map((c) => c.input) : undefined;
  const details = error instanceof ApiError ? error.details : {};
  const pickErrors = speakerErrors(details);

  const toggle = (key: string) => {
    setPicked((all) => {
      const current = all.filter((k) => choices.some((c) => c.key === k));
      if (current.includes(key)) return current.filter((k) => k !== key);
      return current.length >= MAX_SPEAKERS ? current : [...current, key];
    });
  };

  const run = async (kind: 'send' | 'continue', request: () => Promise<ChatTurn>, done: (turn: ChatTurn) => void) => {
    if (sending || busy) return;
    setSending(kind);
    setError(null);
    try {
      done(await request());
    } catch (err) {
      if (err instanceof ApiError && err.code === 'AI_UNAVAILABLE') {
        // Anything kept has a failed answer: show it, offer regenerate.
        if (kind === 'send') setContent('');
        onKeptButFailed(err);
      } else {
        setError(err);
      }
    } finally {
      setSending(null);
    }
  };

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = content;
    if (!text.trim()) return;
    await run(
      'send',
      () => api.sendMessage(conversation.id, { content: text, ...(speakers ? { speakers } : {}) }),
      (turn) => {
        setContent('');
        onTurn(turn, { kind: 'send', content: text });
      },
    );
  };

  const continueScene = () =>
    run(
      'continue',
      () => api.continueScene(conversation.id, speakers ? { speakers } : {}),
      (turn) => onTurn(turn, { kind: 'continue' }),
    );

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={send}>
      <fieldset className="field speaker-pick" aria-describedby={`speakers-help${pickErrors ? ` ${fieldErrorId('speakers')}` : ''}`}>
        <legend>
          Who answers <span className="optional">(optional, up to {MAX_SPEAKERS}, in the order you pick)</span>
        </legend>
        <div className="speaker-choices">
          {choices.map((c) => {
            const order = chosen.findIndex((x) => x.key === c.key);
            const inputId = `speaker-${c.key.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
            return (
              <div key={c.key} className="field checkbox speaker-choice">
                <input
                  id={inputId}
                  type="checkbox"
                  checked={order >= 0}
                  disabled={order < 0 && chosen.length >= MAX_SPEAKERS}
                  onChange={() => toggle(c.key)}
                  data-testid="speaker-pick"
                />
                <label htmlFor={inputId}>{c.label}</label>
                {order >= 0 && (
                  <span className="badge" aria-hidden="true" data-testid="speaker-order">
                    {order + 1}
                  </span>
                )}
              </div>
            );
          })}
        </div>
        <p className="help" id="speakers-help" data-testid="speakers-help">
          {chosen.length ? `Answering: ${chosen.map((c) => c.label).join(', then ')}.` : 'Nobody picked: the scene decides who answers.'}
        </p>
        <FieldError name="speakers" messages={pickErrors} />
      </fieldset>
      <div className="field">
        <label htmlFor="message-input">Your message</label>
        <textarea
          id="message-input"
          rows={3}
          value={content}
          maxLength={MAX_MESSAGE}
          onChange={(e) => setContent(e.target.value)}
          onKeyDown={onKeyDown}
          data-testid="message-input"
          aria-describedby={`message-help${details.content ? ` ${fieldErrorId('content')}` : ''}`}
        />
        <p className="help" id="message-help">
          Enter sends, Shift+Enter starts a new line. {content.length} / {MAX_MESSAGE}
        </p>
        <FieldError name="content" messages={details.content} />
      </div>
      <ErrorBanner error={error} />
      <div className="actions">
        <button type="submit" disabled={!!sending || busy || !content.trim()} data-testid="send-button">
          {sending === 'send' ? 'Sending…' : busy ? 'Answer in progress…' : 'Send'}
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => void continueScene()}
          disabled={!!sending || busy}
          title="The scene goes on without a message of yours"
          data-testid="continue-button"
        >
          {sending === 'continue' ? 'Continuing…' : 'Continue the scene'}
        </button>
      </div>
    </form>
  );
}

function LikeBox({ conversationId, initialCount }: { conversationId: string; initialCount: number }) {
  const api = useApi();
  const liked = useResource((signal) => api.liked(conversationId, signal), [conversationId]);
  const [count, setCount] = useState(initialCount);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setCount(initialCount), [initialCount]);
  const isLiked = !!liked.data?.is_liked;

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = isLiked ? await api.unlike(conversationId) : await api.like(conversationId);
      setCount(result.total_likes);
      liked.setData({ is_liked: !isLiked, liked_at: isLiked ? null : (result.liked_at ?? null) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card small-card" aria-label="Likes">
      <button
        type="button"
        className={isLiked ? '' : 'secondary'}
        aria-pressed={isLiked}
        onClick={toggle}
        disabled={busy || liked.loading}
        data-testid="like-button"
      >
        {isLiked ? '♥ Liked' : '♡ Like'}
      </button>{' '}
      <span data-testid="like-count" aria-live="polite">
        {plural(count, 'like')}
      </span>
      <ErrorBanner error={error ?? liked.error} />
    </section>
  );
}

function ForkConversation({ conversationId }: { conversationId: string }) {
  const api = useApi();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fork = async () => {
    setBusy(true);
    setError(null);
    try {
      const created = await api.forkConversation(conversationId);
      navigate(`/conversations/${created.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card small-card" aria-label="Fork">
      <p className="small muted">Continue from the last few messages as your own conversation.</p>
      <button type="button" onClick={fork} disabled={busy} data-testid="fork-button">
        {busy ? 'Forking…' : 'Fork this conversation'}
      </button>
      <ErrorBanner error={error} />
    </section>
  );
}

function MemoBox({ conversationId }: { conversationId: string }) {
  const api = useApi();
  const memo = useResource(
    async (signal) => {
      try {
        return await api.memo(conversationId, signal);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
    [conversationId],
  );
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (memo.data !== undefined) setDraft(memo.data?.memo_text ?? '');
  }, [memo.data]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!draft.trim()) return;
    setBusy(true);
    setError(null);
    try {
      memo.setData(await api.saveMemo(conversationId, draft));
      setSaved('Memo saved.');
    } catch (err) {
      setError(err);
      setSaved('');
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.deleteMemo(conversationId);
      memo.setData(null);
      setDraft('');
      setSaved('Memo deleted.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const details = error instanceof ApiError ? error.details : {};
  return (
    <section className="card small-card memo" aria-labelledby="memo-heading">
      <h2 id="memo-heading" className="h-small">
        Private memo
      </h2>
      <p className="help">Only you can read it. Markdown, up to {MAX_MEMO.toLocaleString()} characters.</p>
      {memo.loading ? (
        <Loading />
      ) : (
        <form onSubmit={save}>
          <label htmlFor="memo-input" className="visually-hidden">
            Memo
          </label>
          <textarea
            id="memo-input"
            rows={4}
            value={draft}
            maxLength={MAX_MEMO}
            onChange={(e) => {
              setDraft(e.target.value);
              setSaved('');
            }}
            data-testid="memo-input"
            aria-describedby={details.memo_text ? fieldErrorId('memo_text') : undefined}
          />
          <p className="counter">
            {draft.length} / {MAX_MEMO}
          </p>
          <FieldError name="memo_text" messages={details.memo_text} />
          <div className="actions">
            <button type="submit" disabled={busy || !draft.trim()} data-testid="memo-save">
              Save memo
            </button>
            {memo.data && (
              <button type="button" className="secondary" onClick={remove} disabled={busy} data-testid="memo-delete">
                Delete
              </button>
            )}
          </div>
          <p role="status" className="small muted">
            {saved}
          </p>
        </form>
      )}
      <ErrorBanner error={error ?? memo.error} />
      {memo.data?.memo_text && (
        <div className="memo-preview" data-testid="memo-preview">
          <p className="small muted">Saved {formatDateTime(memo.data.updated_at)}:</p>
          <Markdown text={memo.data.memo_text} />
        </div>
      )}
    </section>
  );
}

function ConversationTree({ conversationId, parentId }: { conversationId: string; parentId: string | null }) {
  const api = useApi();
  const tree = useResource((signal) => api.conversationTree(conversationId, signal), [conversationId]);
  return (
    <section className="card small-card" aria-labelledby="ctree-heading" data-testid="conversation-tree">
      <h2 id="ctree-heading" className="h-small">
        Conversation tree
      </h2>
      <ErrorBanner error={tree.error} onRetry={tree.reload} />
      {tree.loading && !tree.data && <Loading />}
      {tree.data && (
        <ul className="tree-list">
          <li>
            {parentId && (
              <p className="small">
                ↑ <Link to={`/conversations/${parentId}`}>Parent conversation</Link>
              </p>
            )}
            <span aria-current="page">{tree.data.title}</span>{' '}
            <span className="muted small">
              ({plural(tree.data.total_descendants ?? tree.data.children.length, 'fork')})
            </span>
            {tree.data.children.length > 0 && (
              <ul>
                {tree.data.children.map((c) => (
                  <li key={c.id}>
                    <Link to={`/conversations/${c.id}`}>{c.title}</Link>{' '}
                    <span className="muted small">
                      by @{c.user.username} · {plural(c.like_count, 'like')} · {plural(c.message_count, 'message')}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        </ul>
      )}
    </section>
  );
}
