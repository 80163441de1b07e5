/** A conversation: its history, the live answer (streamed, resumable),
 * stop/regenerate, likes, a private memo, forks and the fork tree. */

import { CHARACTER_MAX, MEMO_MAX, MESSAGE_MAX } from '../api/rules';
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Markdown, UserLink, fieldErrorId } from '../components/common';
import { TypeBadge } from '../components/ScenarioCard';
import { ApiError } from '../lib/api';
import { findMessage } from '../lib/endpoints';
import { formatDateTime, plural } from '../lib/format';
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
} from '../lib/stream';
import type { ChatMessage, ChatTurn, Citation, Conversation } from '../lib/types';

const MAX_MESSAGE = MESSAGE_MAX;
const MAX_CHARACTER = CHARACTER_MAX;
const MAX_MEMO = MEMO_MAX;

interface StreamStart {
  assistantMessageId: string;
  streamUrl: string;
  streamExpiresAt: string | null;
  fromStart?: boolean;
  text?: string;
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
  const streamRef = useRef<AnswerStream | null>(null);
  const data = conv.data;
  const isOwner = !!user && !!data && user.id === data.user_id;

  const startStream = useCallback(
    (start: StreamStart) => {
      streamRef.current?.dispose();
      const stream = new AnswerStream({
        conversationId: id,
        assistantMessageId: start.assistantMessageId,
        streamUrl: start.streamUrl,
        streamExpiresAt: start.streamExpiresAt,
        fromStart: start.fromStart,
        text: start.text ?? '',
        renewTicket: async () => {
          try {
            return await api.streamTicket(id, start.assistantMessageId);
          } catch (err) {
            if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
            throw err;
          }
        },
        pollMessage: async (): Promise<HistoryMessage | null> => {
          const message = await findMessage(api, id, start.assistantMessageId);
          return message
            ? {
                status: message.status,
                content: message.content,
                grounded: message.grounded,
                degraded: message.degraded,
                model: message.model,
                citations: message.citations,
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

  // A (re)loaded history: take it, and resume an answer still in progress.
  useEffect(() => {
    if (!data) return;
    setMessages(data.messages);
    setHasOlder(data.messages_truncated);
    setAnswers({});
    const saved = readPersistedStream(id);
    const savedMessage = saved ? data.messages.find((m) => m.id === saved.assistant_message_id) : undefined;
    if (saved && shouldResume(saved, savedMessage)) {
      // Reload mid-answer: read the stream from its start and rebuild the text.
      startStream({
        assistantMessageId: saved.assistant_message_id,
        streamUrl: saved.stream_url,
        streamExpiresAt: saved.stream_expires_at,
        fromStart: true,
        text: saved.text,
      });
    } else {
      if (saved) clearPersistedStream(id);
      const open = [...data.messages].reverse().find((m) => m.role === 'assistant' && !isTerminal(m.status));
      if (open) {
        // An answer in progress started elsewhere: a fresh ticket (owner),
        // else the history until it ends.
        startStream({ assistantMessageId: open.id, streamUrl: '', streamExpiresAt: new Date(0).toISOString(), fromStart: true, text: open.content });
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

  const active = messages.find((m) => m.role === 'assistant' && !isTerminal(answers[m.id]?.status ?? m.status));

  /** A turn accepted (send: `content` is the user's text; regenerate: null). */
  const onTurn = (turn: ChatTurn, content: string | null) => {
    setMessages((all) => {
      if (content === null) {
        return all.map((m) => (m.id === turn.assistant_message_id ? { ...m, content: '', status: 'pending' as const, citations: [] } : m));
      }
      return [
        ...all.filter((m) => m.id !== turn.message_id && m.id !== turn.assistant_message_id),
        { id: turn.message_id, role: 'user', content, status: 'completed' as const },
        { id: turn.assistant_message_id, role: 'assistant', content: '', status: 'pending' as const },
      ];
    });
    startStream({ assistantMessageId: turn.assistant_message_id, streamUrl: turn.stream_url, streamExpiresAt: turn.stream_expires_at, text: '' });
  };

  if (conv.loading && !data) return <Loading />;
  if (!data) return <ErrorBanner error={conv.error} onRetry={conv.reload} />;

  return (
    <article className="conversation" data-testid="conversation" data-id={data.id}>
      <ConversationHeader conversation={data} />
      <div className="conversation-layout">
        <div className="chat-column">
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
                  canStop={isOwner}
                  conversationId={id}
                  onRegenerated={(turn) => onTurn(turn, null)}
                  onError={setActionError}
                />
              ))}
            </ol>
          </section>
          <ErrorBanner error={actionError} />
          {isOwner ? (
            <Composer
              conversation={data}
              busy={!!active}
              onSent={(turn, content) => {
                setActionError(null);
                onTurn(turn, content);
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

function statusWords(status: string, phase?: string): string {
  if (phase === 'reconnecting') return 'Reconnecting…';
  if (phase === 'polling') return 'Waiting for the answer…';
  switch (status) {
    case 'pending':
      return 'Thinking…';
    case 'streaming':
      return 'Writing…';
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
  conversationId,
  onRegenerated,
  onError,
}: {
  message: ChatMessage;
  live: AnswerState | undefined;
  canRegenerate: boolean;
  canStop: boolean;
  conversationId: string;
  onRegenerated: (turn: ChatTurn) => void;
  onError: (error: unknown) => void;
}) {
  const api = useApi();
  const [stopping, setStopping] = useState(false);
  const [regenerating, setRegenerating] = useState(false);
  const isAssistant = message.role === 'assistant';
  const status = live && live.phase !== 'done' ? live.status : message.status;
  const text = live && live.phase !== 'done' ? live.text : message.content;
  const inProgress = !isTerminal(status);

  useEffect(() => {
    if (!inProgress) setStopping(false);
  }, [inProgress]);

  if (!isAssistant) {
    return (
      <li className="message user-message" data-testid="user-message" data-id={message.id}>
        <p className="speaker">You</p>
        <Markdown text={message.content} testId="message-content" />
      </li>
    );
  }

  const stop = async () => {
    setStopping(true);
    try {
      await api.cancelMessage(conversationId, message.id);
    } catch (err) {
      // 409: it has already ended; the stream brings the final state.
      if (!(err instanceof ApiError && err.status === 409)) {
        setStopping(false);
        onError(err);
      }
    }
  };

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
      aria-busy={inProgress}
    >
      <p className="speaker">
        Story{' '}
        {message.grounded === true && <span className="badge grounded" title="Passages of the novel reached the model">grounded</span>}
        {message.grounded === false && status === 'completed' && (
          <span className="badge" title="No passages of the novel were used">not grounded</span>
        )}
        {(message.degraded || live?.degraded) && <span className="badge" title="Answered by the fallback model">fallback model</span>}
      </p>
      {text ? <Markdown text={text} testId="message-content" /> : inProgress ? null : <p className="muted">(no text)</p>}
      {(inProgress || status === 'failed' || status === 'cancelled') && (
        <p className="message-status muted small" role="status">
          {statusWords(status, live?.phase)}
        </p>
      )}
      {live?.error && (status === 'failed' || live.phase !== 'done' || live.error.code === 'STILL_RUNNING') && (
        <p className="stream-error small" role="alert">
          {live.error.message}
        </p>
      )}
      {!inProgress && text && message.citations && message.citations.length > 0 && <Sources citations={message.citations} />}
      <div className="message-actions">
        {canStop && inProgress && (
          <button type="button" className="secondary small" onClick={stop} disabled={stopping} data-testid="stop-button">
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
        {canRegenerate && (status === 'failed' || status === 'cancelled') && (
          <button type="button" className="secondary small" onClick={regenerate} disabled={regenerating} data-testid="regenerate-button">
            {regenerating ? 'Regenerating…' : 'Regenerate'}
          </button>
        )}
      </div>
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

const OTHER = '__other__';

function Composer({
  conversation,
  busy,
  onSent,
  onKeptButFailed,
}: {
  conversation: Conversation;
  busy: boolean;
  onSent: (turn: ChatTurn, content: string) => void;
  onKeptButFailed: (error: unknown) => void;
}) {
  const api = useApi();
  const [content, setContent] = useState('');
  const [choice, setChoice] = useState('');
  const [other, setOther] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const scenario = useResource((signal) => api.scenario(conversation.scenario_id, signal), [conversation.scenario_id]);
  const novelId = scenario.data?.novel_id ?? null;
  const cast = useResource(novelId ? (signal) => api.characters(novelId, signal) : null, [novelId]);
  const names = (cast.data ?? []).map((c) => c.name);
  const useList = names.length > 0;
  const character = (useList && choice !== OTHER ? choice : other).trim();
  const details = error instanceof ApiError ? error.details : {};

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = content;
    if (!text.trim() || sending || busy) return;
    setSending(true);
    setError(null);
    try {
      const turn = await api.sendMessage(conversation.id, { content: text, ...(character ? { character } : {}) });
      setContent('');
      onSent(turn, text);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'AI_UNAVAILABLE') {
        // The message is kept and its answer failed: show it, offer regenerate.
        setContent('');
        onKeptButFailed(err);
      } else {
        setError(err);
      }
    } finally {
      setSending(false);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={send}>
      <div className="composer-row">
        <div className="field">
          <label htmlFor="character-pick">Talk to</label>
          {useList ? (
            <select id="character-pick" value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="character-select">
              <option value="">The scenario’s character or narrator</option>
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
              <option value={OTHER}>Someone else…</option>
            </select>
          ) : (
            <input
              id="character-pick"
              type="text"
              value={other}
              maxLength={MAX_CHARACTER}
              placeholder="Default: the scenario’s character"
              onChange={(e) => setOther(e.target.value)}
              data-testid="character-input"
              aria-describedby={details.character ? fieldErrorId('character') : undefined}
            />
          )}
          {useList && choice === OTHER && (
            <>
              <label htmlFor="character-other" className="visually-hidden">
                Character name
              </label>
              <input
                id="character-other"
                type="text"
                value={other}
                maxLength={MAX_CHARACTER}
                placeholder="Character name"
                onChange={(e) => setOther(e.target.value)}
                data-testid="character-input"
              />
            </>
          )}
          <FieldError name="character" messages={details.character} />
        </div>
      </div>
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
        <button type="submit" disabled={sending || busy || !content.trim()} data-testid="send-button">
          {sending ? 'Sending…' : busy ? 'Answer in progress…' : 'Send'}
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
