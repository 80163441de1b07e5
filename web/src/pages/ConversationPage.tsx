/** A conversation: its history, the live turn (one or several answers
 * streamed in one resumable stream), stop/regenerate, "continue the scene",
 * the scene's cast, "why this answer?", likes, a private memo, forks and the
 * fork tree; for the owner also who may see it, editing and deleting their
 * own messages, and switching between an answer's versions; and a search
 * of its messages. */

import { MEMO_MAX, MESSAGE_MAX } from '../api/rules';
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Markdown, UserLink, fieldErrorId } from '../components/common';
import { DownloadButtons } from '../components/Downloads';
import { LorebookLinks } from '../components/LorebookLinks';
import { MemoryPanel } from '../components/MemoryPanel';
import { PromptPanel } from '../components/PromptPanel';
import { TypeBadge } from '../components/ScenarioCard';
import { ScenePanel } from '../components/ScenePanel';
import { Snippet } from '../components/Snippet';
import { ConversationBrief } from '../components/Timeline';
import { VisibilityBadge, VisibilityControl, VisibilitySelect } from '../components/Visibility';
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
import type { Alternatives, Cast, ChatMessage, ChatTurn, Citation, Conversation, MessageSpeaker, SpeakerInput, Visibility } from '../lib/types';
import { SEARCH_QUERY_MAX } from './MessageSearchPage';

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

/** How a turn came about: the reader's message, the scene going on, an
 * answer again, or the reader's edited message answered again. */
type TurnOrigin =
  | { kind: 'send'; content: string }
  | { kind: 'continue' }
  | { kind: 'regenerate' }
  | { kind: 'edit'; messageId: string };

/** Older pages a jump to a search hit loads at most to find its message. */
const MAX_JUMP_PAGES = 10;
/** How long a message a search hit led to stays highlighted. */
const HIGHLIGHT_MS = 4000;

/** The answers of the turn a reader's message started: the answers right after it. */
function answersAfter(all: ChatMessage[], messageId: string): Set<string> {
  const ids = new Set<string>();
  const start = all.findIndex((m) => m.id === messageId);
  if (start < 0) return ids;
  for (const m of all.slice(start + 1)) {
    if (m.role !== 'assistant') break;
    ids.add(m.id);
  }
  return ids;
}

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
  const [highlighted, setHighlighted] = useState<string | null>(null);
  const [jumpNote, setJumpNote] = useState('');
  const [searchParams] = useSearchParams();
  const data = conv.data;
  const isOwner = !!user && !!data && user.id === data.user_id;
  const cast = useResource((signal) => api.cast(id, signal), [id]);
  const scenarioId = data?.scenario_id ?? null;
  const scenario = useResource(isOwner && scenarioId ? (signal) => api.scenario(scenarioId, signal) : null, [isOwner, scenarioId]);
  const novelId = scenario.data?.novel_id ?? null;
  const characters = useResource(novelId ? (signal) => api.characters(novelId, signal) : null, [novelId]);
  // The owner's imported characters, for the cast editor (none when the list cannot be read).
  const cards = useResource(isOwner ? (signal) => api.cards({ page: 0, size: 100 }, signal) : null, [isOwner]);
  const [loreOpen, setLoreOpen] = useState(false);

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

  /** A message changed in place (edited, deleted, another version chosen). */
  const patchMessage = useCallback((messageId: string, patch: Partial<ChatMessage>) => {
    setMessages((all) => all.map((m) => (m.id === messageId ? { ...m, ...patch } : m)));
  }, []);

  const messagesRef = useRef(messages);
  messagesRef.current = messages;

  /** The reader's message edited or deleted: its answers now answer an
   * earlier version — or are answered again (`turn`). */
  const onRevised = (message: ChatMessage, patch: Partial<ChatMessage>, turn: ChatTurn | null) => {
    setMessages((all) => {
      const stale = answersAfter(all, message.id);
      return all.map((m) => (m.id === message.id ? { ...m, ...patch } : stale.has(m.id) ? { ...m, stale: true } : m));
    });
    const currentId = patch.id ?? message.id;
    if (turn) {
      setActionError(null);
      onTurn(turn, { kind: 'edit', messageId: currentId });
    } else {
      void resync(message.id, currentId);
    }
  };

  /** A message shared with a fork is copied before it changes, and so are
   * its answers: read that stretch of the history again for their new ids
   * (positions do not move), keeping whatever else is loaded. */
  const resync = async (originalId: string, currentId: string) => {
    const list = messagesRef.current;
    const index = list.findIndex((m) => m.id === originalId || m.id === currentId);
    if (index < 0) return;
    const count = 1 + answersAfter(list, list[index].id).size;
    const previous = list[index - 1];
    let fresh: ChatMessage[];
    try {
      const page = previous ? await api.messages(id, { after: previous.id, size: count }) : await api.messages(id, { page: 0, size: count });
      fresh = page.content;
    } catch {
      return; // what is shown is right but for ids a reload will bring
    }
    setMessages((all) => {
      const at = all.findIndex((m) => m.id === currentId);
      if (at < 0 || at !== index || fresh.length !== 1 + answersAfter(all, currentId).size) return all;
      return [...all.slice(0, at), ...fresh, ...all.slice(at + fresh.length)];
    });
  };

  /** To a search hit: highlighted where it is shown, after loading the earlier
   * messages that hold it when needed. */
  const jumpTo = async (messageId: string, shown: ChatMessage[] = messages, hasMore: boolean = hasOlder) => {
    setJumpNote('');
    let loaded = shown;
    let older = hasMore;
    for (let pages = 0; !loaded.some((m) => m.id === messageId) && older && pages < MAX_JUMP_PAGES && loaded.length; pages += 1) {
      try {
        const page = await api.messages(id, { before: loaded[0].id, size: 50 });
        const known = loaded;
        loaded = [...page.content.filter((m) => !known.some((x) => x.id === m.id)), ...known];
        older = !!page.cursors.older;
      } catch (err) {
        setActionError(err);
        return;
      }
    }
    if (loaded !== shown) {
      const added = loaded;
      setMessages((all) => [...added.filter((m) => !all.some((x) => x.id === m.id)), ...all]);
      setHasOlder(older);
    }
    if (loaded.some((m) => m.id === messageId)) setHighlighted(messageId);
    else setJumpNote('That message is not in this conversation’s history any more.');
  };

  // A link to a message (`?message=`): to it once the history is here.
  const linked = searchParams.get('message');
  useEffect(() => {
    if (linked && data) void jumpTo(linked, data.messages, data.messages_truncated);
    // Once per history loaded (jumpTo reads the page's state as it is then).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [linked, data]);

  useEffect(() => {
    if (!highlighted) return;
    const el = [...document.querySelectorAll<HTMLElement>('.message-list > .message')].find((li) => li.dataset.id === highlighted);
    el?.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
    el?.focus({ preventScroll: true });
    const later = setTimeout(() => setHighlighted(null), HIGHLIGHT_MS);
    return () => clearTimeout(later);
  }, [highlighted]);

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
      if (origin.kind === 'regenerate' || origin.kind === 'edit') {
        // An edited message's turn: the answers after it are the turn's
        // (their own copies, new ids, when a fork shared them).
        const editedId = origin.kind === 'edit' ? origin.messageId : null;
        const edited = editedId ? all.findIndex((m) => m.id === editedId) : -1;
        const replaced = editedId && edited >= 0 ? answersAfter(all, editedId) : new Set<string>();
        const kept = all.filter((m) => !replaced.has(m.id) || turnAnswers.some((a) => a.message_id === m.id));
        /** Answered again: a completed answer's text becomes one of its versions. */
        const restart = (m: ChatMessage, id: string, speaker: MessageSpeaker | null): ChatMessage => {
          const count = m.status === 'completed' && m.content ? Math.max(m.alternatives_count ?? 0, 1) + 1 : (m.alternatives_count ?? 0);
          return {
            ...m,
            id,
            content: '',
            status: 'pending' as const,
            citations: [],
            grounded: null,
            stale: false,
            alternatives_count: count,
            chosen: count > 1 ? count - 1 : (m.chosen ?? null),
            speaker: speaker ?? m.speaker,
          };
        };
        const again = kept.map((m) => {
          const answer = turnAnswers.find((a) => a.message_id === m.id);
          return answer ? restart(m, m.id, answer.speaker) : m;
        });
        // Answers of the turn that are new rows follow the edited message,
        // each taking the versions of the one it replaces.
        const gone = all.filter((m) => replaced.has(m.id) && !kept.some((k) => k.id === m.id));
        const fresh = turnAnswers
          .filter((a) => !kept.some((m) => m.id === a.message_id))
          .map((a, k): ChatMessage =>
            gone[k]
              ? restart(gone[k], a.message_id, a.speaker)
              : { id: a.message_id, role: 'assistant', content: '', status: 'pending', ...(a.speaker ? { speaker: a.speaker } : {}) },
          );
        if (!fresh.length) return again;
        const at =
          edited >= 0 ? again.findIndex((m) => m.id === editedId) + 1 + [...replaced].filter((mid) => again.some((m) => m.id === mid)).length : again.length;
        return [...again.slice(0, at), ...fresh, ...again.slice(at)];
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

  const lastUserId = [...messages].reverse().find((m) => m.role === 'user' && !m.deleted)?.id ?? null;

  return (
    <article className="conversation" data-testid="conversation" data-id={data.id}>
      <ConversationHeader conversation={data} isOwner={isOwner} />
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
                  highlighted={highlighted === m.id}
                  canEdit={isOwner && !active && !!m.id}
                  isLastTurn={m.id === lastUserId}
                  onRevised={onRevised}
                  onChanged={patchMessage}
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
          <ConversationSearch conversationId={id} onJump={(mid) => void jumpTo(mid)} note={jumpNote} />
          <ScenePanel
            conversationId={id}
            cast={cast}
            characters={characters.data ?? []}
            charactersUnavailable={!!characters.error}
            canEdit={isOwner}
            cards={cards.data?.content ?? []}
          />
          {isOwner && (
            <>
              <PanelToggle open={memoryOpen} controls="memory-panel" onToggle={setMemoryOpen} testId="memory-toggle">
                What they know
              </PanelToggle>
              {memoryOpen && <MemoryPanel conversationId={id} canEdit={isOwner} refreshKey={memoryKey} />}
              <PanelToggle open={loreOpen} controls="lorebook-links" onToggle={setLoreOpen} testId="lorebooks-toggle">
                Lorebooks
              </PanelToggle>
              {loreOpen && <LorebookLinks conversationId={id} />}
            </>
          )}
          <section className="card small-card" aria-label="Export">
            <DownloadButtons
              label="Export"
              testId="conversation-export"
              choices={[
                { label: 'Gaji JSON', testId: 'conversation-export-gaji', fetch: () => api.exportConversation(id, 'gaji') },
                { label: 'SillyTavern JSONL', testId: 'conversation-export-sillytavern', fetch: () => api.exportConversation(id, 'sillytavern') },
              ]}
            />
          </section>
          {user && <LikeBox conversationId={id} initialCount={data.like_count} />}
          {user && !data.is_fork && <ForkConversation conversationId={id} />}
          {user && <MemoBox conversationId={id} />}
          <ConversationTree conversationId={id} parentId={data.parent_conversation_id} />
        </aside>
      </div>
    </article>
  );
}

/** Shows or hides one of the owner's side panels (`controls`: its element id). */
function PanelToggle({
  open,
  controls,
  onToggle,
  testId,
  children,
}: {
  open: boolean;
  controls: string;
  onToggle: (update: (open: boolean) => boolean) => void;
  testId: string;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      className="secondary memory-toggle"
      aria-expanded={open}
      aria-controls={open ? controls : undefined}
      onClick={() => onToggle((was) => !was)}
      data-testid={testId}
    >
      {children}
    </button>
  );
}

function ConversationHeader({ conversation, isOwner }: { conversation: Conversation; isOwner: boolean }) {
  const api = useApi();
  const s = conversation.scenario;
  // Kept here: changing it must not reload the history the page streams into.
  const [visibility, setVisibility] = useState<Visibility | undefined>(conversation.visibility);
  useEffect(() => setVisibility(conversation.visibility), [conversation.visibility]);
  return (
    <header className="page-header">
      <h1>
        {conversation.title} <VisibilityBadge visibility={visibility} />
      </h1>
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
      {isOwner && visibility && (
        <VisibilityControl
          id="conversation-visibility"
          value={visibility}
          save={async (next) => {
            const updated = await api.updateConversation(conversation.id, { visibility: next });
            setVisibility(updated.visibility ?? next);
          }}
          statusTestId="visibility-status"
        />
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
  highlighted,
  canEdit,
  isLastTurn,
  onRevised,
  onChanged,
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
  /** A search hit led here. */
  highlighted: boolean;
  /** Edit and delete (the owner, on their own messages, between turns). */
  canEdit: boolean;
  /** The reader's latest message: an edit may answer it again. */
  isLastTurn: boolean;
  onRevised: (message: ChatMessage, patch: Partial<ChatMessage>, turn: ChatTurn | null) => void;
  onChanged: (messageId: string, patch: Partial<ChatMessage>) => void;
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
      <UserMessage
        message={message}
        highlighted={highlighted}
        canEdit={canEdit}
        isLastTurn={isLastTurn}
        conversationId={conversationId}
        onRevised={onRevised}
      />
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
      className={`message assistant-message status-${status}${highlighted ? ' highlighted' : ''}`}
      data-testid="assistant-message"
      data-status={status}
      data-id={message.id}
      aria-live="polite"
      aria-busy={going}
      tabIndex={-1}
    >
      <p className="speaker">
        <span data-testid="speaker-name">{name}</span>{' '}
        {message.grounded === true && <span className="badge grounded" title="Passages of the novel reached the model">grounded</span>}
        {message.grounded === false && status === 'completed' && (
          <span className="badge" title="No passages of the novel were used">not grounded</span>
        )}
        {(message.degraded || live?.degraded) && <span className="badge" title="Answered by the fallback model">fallback model</span>}
      </p>
      {message.stale && !going && (
        <p className="stale-note small muted" data-testid="stale-note">
          Answers an earlier version of the message.
        </p>
      )}
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
        {canInspect && !going && (message.alternatives_count ?? 0) > 1 && (
          <AlternativeSwitcher conversationId={conversationId} message={message} canChoose={canRegenerate} onChanged={onChanged} onError={onError} />
        )}
        {canRegenerate && !going && (
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

/** The reader's own message: shown, edited in place or deleted (its place kept). */
function UserMessage({
  message,
  highlighted,
  canEdit,
  isLastTurn,
  conversationId,
  onRevised,
}: {
  message: ChatMessage;
  highlighted: boolean;
  canEdit: boolean;
  isLastTurn: boolean;
  conversationId: string;
  /** With the turn that answers it again, when asked for. */
  onRevised: (message: ChatMessage, patch: Partial<ChatMessage>, turn: ChatTurn | null) => void;
}) {
  const api = useApi();
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const [busy, setBusy] = useState<'save' | 'regenerate' | 'delete' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const details = error instanceof ApiError ? error.details : {};
  const editId = `edit-${message.id}`;
  const className = `message user-message${message.deleted ? ' deleted' : ''}${highlighted ? ' highlighted' : ''}`;

  if (message.deleted) {
    return (
      <li className={className} data-testid="user-message" data-id={message.id} data-deleted="true" tabIndex={-1}>
        <p className="speaker">You</p>
        <p className="muted" data-testid="message-deleted">
          Message deleted.
        </p>
      </li>
    );
  }

  const startEdit = () => {
    setDraft(message.content);
    setError(null);
    setConfirming(false);
    setEditing(true);
  };

  const save = async (regenerate: boolean) => {
    if (!draft.trim() || busy) return;
    setBusy(regenerate ? 'regenerate' : 'save');
    setError(null);
    try {
      const result = await api.editMessage(conversationId, message.id, { content: draft, ...(regenerate ? { regenerate: true } : {}) });
      setEditing(false);
      // The message as it now is (its own copy, with a new id, when a fork shared it).
      onRevised(message, { ...result.message, edited_at: result.message.edited_at ?? new Date().toISOString() }, result.turn);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    setBusy('delete');
    setError(null);
    try {
      await api.deleteMessage(conversationId, message.id);
      onRevised(message, { deleted: true, content: '' }, null);
    } catch (err) {
      setError(err);
      setBusy(null);
    }
  };

  return (
    <li className={className} data-testid="user-message" data-id={message.id} tabIndex={-1}>
      <p className="speaker">
        You{' '}
        {message.edited_at && (
          <span className="muted small" title={formatDateTime(message.edited_at)} data-testid="edited-mark">
            (edited)
          </span>
        )}
      </p>
      {editing ? (
        <form
          className="message-edit"
          onSubmit={(e) => {
            e.preventDefault();
            void save(false);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Escape') setEditing(false);
          }}
        >
          <label htmlFor={editId} className="visually-hidden">
            Edit your message
          </label>
          <textarea
            id={editId}
            rows={3}
            value={draft}
            maxLength={MAX_MESSAGE}
            autoFocus
            onChange={(e) => setDraft(e.target.value)}
            aria-invalid={!!details.content?.length || undefined}
            aria-describedby={details.content?.length ? fieldErrorId('content') : undefined}
            data-testid="edit-input"
          />
          <FieldError name="content" messages={details.content} />
          {!details.content && <ErrorBanner error={error} />}
          <div className="actions">
            <button type="submit" className="small" disabled={!!busy || !draft.trim()} data-testid="edit-save">
              {busy === 'save' ? 'Saving…' : 'Save'}
            </button>
            {isLastTurn && (
              <button
                type="button"
                className="small"
                onClick={() => void save(true)}
                disabled={!!busy || !draft.trim()}
                data-testid="edit-save-regenerate"
              >
                {busy === 'regenerate' ? 'Saving…' : 'Save and regenerate answers'}
              </button>
            )}
            <button type="button" className="secondary small" onClick={() => setEditing(false)} disabled={!!busy}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <Markdown text={message.content} testId="message-content" />
      )}
      {confirming && (
        <div className="confirm-box small" role="alertdialog" aria-labelledby={`delete-q-${message.id}`} data-testid="delete-message-dialog">
          <p id={`delete-q-${message.id}`}>Delete this message? Its answers stay, marked as answering an earlier version.</p>
          <ErrorBanner error={error} />
          <div className="actions">
            <button type="button" className="danger small" onClick={() => void remove()} disabled={!!busy} autoFocus data-testid="delete-message-confirm">
              {busy === 'delete' ? 'Deleting…' : 'Delete'}
            </button>
            <button type="button" className="secondary small" onClick={() => setConfirming(false)} disabled={!!busy}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {canEdit && !editing && !confirming && (
        <div className="message-actions">
          <button type="button" className="link-button small" onClick={startEdit} data-testid="edit-message">
            Edit
          </button>
          <button
            type="button"
            className="link-button small"
            onClick={() => {
              setError(null);
              setConfirming(true);
            }}
            data-testid="delete-message"
          >
            Delete
          </button>
        </div>
      )}
    </li>
  );
}

/** "‹ 2 / 3 ›": the versions of a regenerated answer. The versions are read
 * once (the text shows at once), then the choice is saved. */
function AlternativeSwitcher({
  conversationId,
  message,
  canChoose,
  onChanged,
  onError,
}: {
  conversationId: string;
  message: ChatMessage;
  canChoose: boolean;
  onChanged: (messageId: string, patch: Partial<ChatMessage>) => void;
  onError: (error: unknown) => void;
}) {
  const api = useApi();
  const count = message.alternatives_count ?? 0;
  const current = Math.min(Math.max(message.chosen ?? count - 1, 0), count - 1);
  const [loaded, setLoaded] = useState<{ count: number; data: Alternatives } | null>(null);
  const [busy, setBusy] = useState(false);

  const choose = async (index: number) => {
    if (busy || index < 0 || index >= count) return;
    setBusy(true);
    const before: Partial<ChatMessage> = {
      content: message.content,
      chosen: message.chosen ?? null,
      citations: message.citations,
      grounded: message.grounded,
      model: message.model,
    };
    try {
      let alternatives = loaded && loaded.count === count ? loaded.data : null;
      if (!alternatives) {
        alternatives = await api.alternatives(conversationId, message.id);
        setLoaded({ count, data: alternatives });
      }
      const item = alternatives.items.find((i) => i.index === index);
      if (item) {
        onChanged(message.id, { content: item.content, chosen: index, citations: item.citations, grounded: item.grounded, model: item.model });
      }
      const saved = await api.chooseAlternative(conversationId, message.id, index);
      onChanged(message.id, {
        content: saved.content,
        chosen: saved.chosen ?? index,
        citations: saved.citations ?? item?.citations ?? [],
        grounded: saved.grounded ?? item?.grounded ?? null,
        ...(saved.model ? { model: saved.model } : {}),
        ...(typeof saved.alternatives_count === 'number' ? { alternatives_count: saved.alternatives_count } : {}),
      });
    } catch (err) {
      onChanged(message.id, before);
      onError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="alternatives" role="group" aria-label="Versions of this answer" data-testid="alternatives">
      <button
        type="button"
        className="secondary small"
        onClick={() => void choose(current - 1)}
        disabled={!canChoose || busy || current <= 0}
        aria-label="Previous version"
        data-testid="alternative-prev"
      >
        ‹
      </button>
      <span className="small" aria-live="polite" data-testid="alternative-position">
        {current + 1} / {count}
      </span>
      <button
        type="button"
        className="secondary small"
        onClick={() => void choose(current + 1)}
        disabled={!canChoose || busy || current >= count - 1}
        aria-label="Next version"
        data-testid="alternative-next"
      >
        ›
      </button>
    </span>
  );
}

/** Search this conversation's messages; a hit leads to its message. */
function ConversationSearch({ conversationId, onJump, note }: { conversationId: string; onJump: (messageId: string) => void; note: string }) {
  const api = useApi();
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  const [page, setPage] = useState(0);
  const results = useResource(q ? (signal) => api.searchMessages(conversationId, { q, page, size: 10 }, signal) : null, [conversationId, q, page]);
  const details = results.error instanceof ApiError ? results.error.details : {};

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setPage(0);
    setQ(draft.trim());
  };

  const clear = () => {
    setDraft('');
    setQ('');
    setPage(0);
  };

  return (
    <section className="card small-card conversation-search" aria-labelledby="csearch-heading">
      <h2 id="csearch-heading" className="h-small">
        Search this conversation
      </h2>
      <form role="search" aria-labelledby="csearch-heading" onSubmit={submit}>
        <label htmlFor="conversation-search-input" className="visually-hidden">
          Words to find
        </label>
        <div className="search-row">
          <input
            id="conversation-search-input"
            type="search"
            value={draft}
            maxLength={SEARCH_QUERY_MAX}
            onChange={(e) => setDraft(e.target.value)}
            aria-invalid={!!details.q?.length || undefined}
            aria-describedby={details.q?.length ? fieldErrorId('q') : undefined}
            data-testid="conversation-search-input"
          />
          <button type="submit" className="small" disabled={!draft.trim()} data-testid="conversation-search-submit">
            Search
          </button>
        </div>
        <FieldError name="q" messages={details.q} />
      </form>
      {q && (
        <>
          {!details.q && <ErrorBanner error={results.error} onRetry={results.reload} />}
          {results.loading && <Loading label="Searching…" />}
          {results.data && !results.loading && (
            <>
              <p className="small muted" aria-live="polite" data-testid="conversation-search-count">
                {plural(results.data.page.total_elements, 'message')} match “{q}”.{' '}
                <button type="button" className="link-button small" onClick={clear}>
                  Clear
                </button>
              </p>
              <ol className="search-hits">
                {results.data.content.map((hit) => (
                  <li key={hit.message.id}>
                    <button type="button" className="search-hit link-button" onClick={() => onJump(hit.message.id)} data-testid="conversation-search-hit">
                      <span className="small muted">
                        {hit.message.role === 'user' ? 'You' : speakerName(hit.message.speaker)} · #{hit.position + 1}
                      </span>{' '}
                      <Snippet text={hit.snippet} />
                    </button>
                  </li>
                ))}
              </ol>
              {results.data.page.total_pages > 1 && (
                <div className="actions">
                  <button type="button" className="secondary small" disabled={page <= 0} onClick={() => setPage(page - 1)}>
                    ← Previous
                  </button>
                  <button type="button" className="secondary small" disabled={page >= results.data.page.total_pages - 1} onClick={() => setPage(page + 1)}>
                    Next →
                  </button>
                </div>
              )}
            </>
          )}
        </>
      )}
      {note && (
        <p className="small muted" role="status">
          {note}
        </p>
      )}
    </section>
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
  const [visibility, setVisibility] = useState<Visibility | ''>('');
  const details = error instanceof ApiError ? error.details : {};
  const fork = async () => {
    setBusy(true);
    setError(null);
    try {
      // Without a choice the server applies the reader's default.
      const created = await api.forkConversation(conversationId, visibility ? { visibility } : {});
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
      <VisibilitySelect
        id="fork-visibility"
        label="Your fork is"
        value={visibility}
        onChange={setVisibility}
        defaultLabel="As in my settings"
        disabled={busy}
        errors={details.visibility}
        testId="fork-visibility"
      />
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
