/** Every route the app calls, one function each, named after the route. */

import type { ApiClient, DownloadedFile, QueryValue } from './api';
import type {
  AccountExport,
  Alternatives,
  Ancestors,
  AuthResponse,
  CardFormat,
  CharacterCard,
  CharacterCardItem,
  ConversationExportFormat,
  CanonOut,
  CanonRequest,
  Cast,
  CastRequest,
  Character,
  ChatMessage,
  ChatTurn,
  Conversation,
  ConversationListItem,
  ConversationTreeNode,
  ConversationUpdated,
  DetailResponse,
  FollowEntry,
  FollowStatus,
  ForkTreeNode,
  ForksPage,
  IngestAccepted,
  IngestJob,
  LikedStatus,
  Lorebook,
  LorebookFormat,
  LorebookItem,
  LorebookLinks,
  LikeResult,
  Me,
  MeUpdate,
  Memo,
  MemoryEntry,
  MemoryEntryCreate,
  MemoryEntryUpdate,
  MemoryPage,
  MessageEditResult,
  MessagePage,
  MessagePrompt,
  MessageSearchHit,
  ModelList,
  MyMessageSearchHit,
  NotificationPage,
  NotificationReadResult,
  Novel,
  NovelImportAccepted,
  NovelImportOptions,
  NovelUpdate,
  OwnNovel,
  OwnNovelPage,
  Page,
  PassageSearchResult,
  PublicProfile,
  Scenario,
  ScenarioParameters,
  ScenarioSearchPage,
  ScenarioType,
  SpeakerInput,
  StreamTicket,
  Timeline,
  UserSettings,
  UserSettingsUpdate,
  Visibility,
} from './types';

type Query = Record<string, QueryValue>;
const enc = encodeURIComponent;

export function makeApi(client: ApiClient) {
  const core = client.core.bind(client);
  const ai = client.ai.bind(client);
  return {
    client,

    // -- auth -------------------------------------------------------------
    register: (body: { email: string; username: string; password: string }) =>
      core<AuthResponse>('/auth/register', { method: 'POST', body, auth: 'none' }),
    login: (body: { email: string; password: string }) =>
      core<AuthResponse>('/auth/login', { method: 'POST', body, auth: 'none' }),
    logout: (refreshToken: string) =>
      core<{ message: string }>('/auth/logout', { method: 'POST', body: { refresh_token: refreshToken } }),
    /** 202 whether or not the address has an account (nothing is revealed). */
    requestPasswordReset: (email: string) =>
      core<DetailResponse>('/auth/password-reset', { method: 'POST', body: { email }, auth: 'none' }),
    /** The emailed link's uid and token (single-use, expiring: else 400 `token`). */
    confirmPasswordReset: (body: { uid: string; token: string; new_password: string }) =>
      core<DetailResponse>('/auth/password-reset/confirm', { method: 'POST', body, auth: 'none' }),

    // -- the reader's own account ----------------------------------------------
    me: (signal?: AbortSignal) => core<Me>('/users/me', { signal }),
    /** An email change needs `current_password` (else 400 on that field). */
    updateMe: (body: MeUpdate) => core<Me>('/users/me', { method: 'PATCH', body }),
    /** A fresh token pair, as login answers (every earlier refresh token is revoked). */
    changePassword: (body: { current_password: string; new_password: string }) =>
      core<AuthResponse>('/users/me/password', { method: 'POST', body }),
    deleteAccount: (password: string) => core<void>('/users/me', { method: 'DELETE', body: { password } }),
    exportAccount: () => core<AccountExport>('/users/me/export'),
    settings: (signal?: AbortSignal) => core<UserSettings>('/users/me/settings', { signal }),
    /** Omitted keys keep their values; null resets a key to its default. */
    saveSettings: (body: UserSettingsUpdate) => core<UserSettings>('/users/me/settings', { method: 'PUT', body }),
    /** Messages of the reader's own conversations matching `q` (1-200 characters). */
    searchMyMessages: (query: Query, signal?: AbortSignal) =>
      core<Page<MyMessageSearchHit>>('/users/me/messages/search', { query, signal }),

    // -- notifications ------------------------------------------------------------
    notifications: (query: Query, signal?: AbortSignal) => core<NotificationPage>('/notifications', { query, signal }),
    markNotificationsRead: (body: { ids: string[] } | { all: true }) =>
      core<NotificationReadResult>('/notifications/read', { method: 'POST', body }),
    /** A ticket URL for ai's live notification stream (SSE). */
    notificationStreamTicket: () => core<StreamTicket>('/notifications/stream', { method: 'POST' }),

    // -- users --------------------------------------------------------------
    profile: (username: string, signal?: AbortSignal) => core<PublicProfile>(`/users/${enc(username)}`, { signal }),
    updateProfile: (body: { bio?: string | null; avatar_url?: string | null }) =>
      core<{ bio: string; avatar_url: string | null }>('/users/profile', { method: 'PUT', body }),
    uploadAvatar: (file: File) => {
      const form = new FormData();
      form.append('avatar', file);
      return core<{ avatar_url: string; uploaded_at: string }>('/users/profile/avatar', { method: 'POST', form });
    },
    follow: (userId: string) => core<unknown>(`/users/${enc(userId)}/follow`, { method: 'POST' }),
    unfollow: (userId: string) => core<unknown>(`/users/${enc(userId)}/unfollow`, { method: 'DELETE' }),
    isFollowing: (userId: string, signal?: AbortSignal) =>
      core<FollowStatus>(`/users/${enc(userId)}/is-following`, { signal }),
    followers: (userId: string, query: Query, signal?: AbortSignal) =>
      core<Page<FollowEntry>>(`/users/${enc(userId)}/followers`, { query, signal }),
    following: (userId: string, query: Query, signal?: AbortSignal) =>
      core<Page<FollowEntry>>(`/users/${enc(userId)}/following`, { query, signal }),
    likedConversations: (query: Query, signal?: AbortSignal) =>
      core<Page<ConversationListItem>>('/users/me/liked-conversations', { query, signal }),

    // -- novels -----------------------------------------------------------
    novels: (query: Query, signal?: AbortSignal) => core<Page<Novel>>('/novels', { query, signal }),
    novel: (idOrSlug: string, signal?: AbortSignal) => core<Novel>(`/novels/${enc(idOrSlug)}`, { signal }),

    /** A reader's story: a .txt/.md/.epub file; 202 with the job to follow on ai. */
    importNovelFile: (file: File, options: NovelImportOptions = {}) => {
      const form = new FormData();
      form.append('file', file);
      for (const [key, value] of Object.entries(options)) if (value) form.append(key, value);
      return core<NovelImportAccepted>('/novels/imports', { method: 'POST', form });
    },
    /** A reader's story from a public http(s) URL (core fetches it safely). */
    importNovelUrl: (url: string, options: NovelImportOptions = {}) =>
      core<NovelImportAccepted>('/novels/imports', { method: 'POST', body: { url, ...stripEmpty(options) } }),
    /** The reader's own imports and their quota. */
    myNovels: (query: Query, signal?: AbortSignal) => core<OwnNovelPage>('/users/me/novels', { query, signal }),
    updateNovel: (idOrSlug: string, body: NovelUpdate) => core<OwnNovel>(`/novels/${enc(idOrSlug)}`, { method: 'PATCH', body }),
    deleteNovel: (idOrSlug: string) => core<void>(`/novels/${enc(idOrSlug)}`, { method: 'DELETE' }),
    exportNovelLorebook: (idOrSlug: string, format: LorebookFormat) =>
      client.download('core', `/novels/${enc(idOrSlug)}/lorebook`, { query: { format }, fallbackName: `${idOrSlug}-${format}.json` }),
    /** `characterId`: an `id` of ai's GET novels/{id}/characters. */
    exportNovelCharacterCard: (idOrSlug: string, characterId: string, format: 'json' | 'png') =>
      client.download('core', `/novels/${enc(idOrSlug)}/characters/${enc(characterId)}/card`, {
        query: { format },
        fallbackName: `${characterId}.${format}`,
      }),

    // -- the reader's character cards and lorebooks --------------------------------
    importCard: (file: File) => {
      const form = new FormData();
      form.append('file', file);
      return core<CharacterCard>('/characters/import', { method: 'POST', form });
    },
    cards: (query: Query, signal?: AbortSignal) => core<Page<CharacterCardItem>>('/characters', { query, signal }),
    card: (id: string, signal?: AbortSignal) => core<CharacterCard>(`/characters/${enc(id)}`, { signal }),
    deleteCard: (id: string) => core<void>(`/characters/${enc(id)}`, { method: 'DELETE' }),
    /** The card's PNG (it needs the token, so it is fetched, not linked). */
    cardImage: (id: string, signal?: AbortSignal): Promise<DownloadedFile> =>
      client.download('core', `/characters/${enc(id)}/image`, { signal, fallbackName: 'card.png' }),
    exportCard: (id: string, format: CardFormat) =>
      client.download('core', `/characters/${enc(id)}/export`, { query: { format }, fallbackName: `card.${format}` }),
    importLorebook: (file: File) => {
      const form = new FormData();
      form.append('file', file);
      return core<Lorebook>('/lorebooks/import', { method: 'POST', form });
    },
    lorebooks: (query: Query, signal?: AbortSignal) => core<Page<LorebookItem>>('/lorebooks', { query, signal }),
    lorebook: (id: string, signal?: AbortSignal) => core<Lorebook>(`/lorebooks/${enc(id)}`, { signal }),
    deleteLorebook: (id: string) => core<void>(`/lorebooks/${enc(id)}`, { method: 'DELETE' }),
    exportLorebook: (id: string, format: LorebookFormat) =>
      client.download('core', `/lorebooks/${enc(id)}/export`, { query: { format }, fallbackName: `lorebook-${format}.json` }),

    // -- scenarios ----------------------------------------------------------
    scenarios: (query: Query, signal?: AbortSignal) => core<Page<Scenario>>('/scenarios', { query, signal }),
    searchScenarios: (query: Query, signal?: AbortSignal) =>
      core<ScenarioSearchPage>('/scenarios/search', { query, signal }),
    scenario: (id: string, signal?: AbortSignal) => core<Scenario>(`/scenarios/${enc(id)}`, { signal }),
    createScenario: (body: { base_story: string; scenario_type: ScenarioType; parameters: ScenarioParameters }) =>
      core<Scenario>('/scenarios', { method: 'POST', body }),
    forkScenario: (id: string, body: { scenario_type?: ScenarioType; parameters: ScenarioParameters }) =>
      core<Scenario>(`/scenarios/${enc(id)}/fork`, { method: 'POST', body }),
    forks: (id: string, query: Query, signal?: AbortSignal) =>
      core<ForksPage>(`/scenarios/${enc(id)}/forks`, { query, signal }),
    forkTree: (id: string, maxDepth: number, signal?: AbortSignal) =>
      core<ForkTreeNode>(`/scenarios/${enc(id)}/fork-tree`, { query: { max_depth: maxDepth }, signal }),
    ancestors: (id: string, signal?: AbortSignal) => core<Ancestors>(`/scenarios/${enc(id)}/ancestors`, { signal }),
    timeline: (id: string, signal?: AbortSignal) => core<Timeline>(`/scenarios/${enc(id)}/timeline`, { signal }),

    // -- conversations ----------------------------------------------------------
    conversations: (query: Query, signal?: AbortSignal) =>
      core<Page<ConversationListItem>>('/conversations', { query, signal }),
    /** Without `visibility` the reader's default applies. */
    createConversation: (body: { scenario_id: string; title?: string; visibility?: Visibility }) =>
      core<Conversation>('/conversations', { method: 'POST', body }),
    conversation: (id: string, signal?: AbortSignal) => core<Conversation>(`/conversations/${enc(id)}`, { signal }),
    /** The owner renames it or changes who may see it. */
    updateConversation: (id: string, body: { title?: string; visibility?: Visibility }) =>
      core<ConversationUpdated>(`/conversations/${enc(id)}`, { method: 'PUT', body }),
    messages: (id: string, query: Query, signal?: AbortSignal) =>
      core<MessagePage>(`/conversations/${enc(id)}/messages`, { query, signal }),
    /** `speakers`: who answers, in order (at most 3); else the scene decides. */
    sendMessage: (id: string, body: { content: string; character?: string; speakers?: SpeakerInput[]; model?: string }) =>
      core<ChatTurn>(`/conversations/${enc(id)}/messages`, { method: 'POST', body }),
    /** The scene goes on without a message of the reader's (`message_id` null). */
    continueScene: (id: string, body: { speakers?: SpeakerInput[]; model?: string } = {}) =>
      core<ChatTurn>(`/conversations/${enc(id)}/continue`, { method: 'POST', body }),
    cancelMessage: (id: string, messageId: string) =>
      core<unknown>(`/conversations/${enc(id)}/messages/${enc(messageId)}/cancel`, { method: 'POST' }),
    regenerateMessage: (id: string, messageId: string, body: { character?: string } = {}) =>
      core<ChatTurn>(`/conversations/${enc(id)}/messages/${enc(messageId)}/regenerate`, { method: 'POST', body }),
    /** The owner's own message; `regenerate` (last turn only, else 409) answers it again. */
    editMessage: (id: string, messageId: string, body: { content: string; regenerate?: boolean }) =>
      core<MessageEditResult>(`/conversations/${enc(id)}/messages/${enc(messageId)}`, { method: 'PATCH', body }),
    /** The message keeps its place as `deleted`; the answers after it become `stale`. */
    deleteMessage: (id: string, messageId: string) =>
      core<void>(`/conversations/${enc(id)}/messages/${enc(messageId)}`, { method: 'DELETE' }),
    alternatives: (id: string, messageId: string, signal?: AbortSignal) =>
      core<Alternatives>(`/conversations/${enc(id)}/messages/${enc(messageId)}/alternatives`, { signal }),
    /** Shows version `index` (forks and the model's history use it from now on). */
    chooseAlternative: (id: string, messageId: string, index: number) =>
      core<ChatMessage>(`/conversations/${enc(id)}/messages/${enc(messageId)}/alternatives`, { method: 'PUT', body: { index } }),
    searchMessages: (id: string, query: Query, signal?: AbortSignal) =>
      core<Page<MessageSearchHit>>(`/conversations/${enc(id)}/messages/search`, { query, signal }),
    /** A fresh stream ticket for an answer still being generated (404 where
     * the backend does not offer it: then poll the history). */
    streamTicket: (id: string, messageId: string) =>
      core<StreamTicket>(`/conversations/${enc(id)}/messages/${enc(messageId)}/stream`, { method: 'POST' }),
    /** What the model received for an answer (owner and staff; 404 for anyone else). */
    messagePrompt: (id: string, messageId: string, signal?: AbortSignal) =>
      core<MessagePrompt>(`/conversations/${enc(id)}/messages/${enc(messageId)}/prompt`, { signal }),
    cast: (id: string, signal?: AbortSignal) => core<Cast>(`/conversations/${enc(id)}/cast`, { signal }),
    saveCast: (id: string, body: CastRequest) => core<Cast>(`/conversations/${enc(id)}/cast`, { method: 'PUT', body }),
    /** What the branch remembers, pinned first then newest (owner and staff; 403 for anyone else). */
    memory: (id: string, query: Query, signal?: AbortSignal) =>
      core<MemoryPage>(`/conversations/${enc(id)}/memory`, { query, signal }),
    addMemory: (id: string, body: MemoryEntryCreate) =>
      core<MemoryEntry>(`/conversations/${enc(id)}/memory`, { method: 'POST', body }),
    updateMemory: (id: string, entryId: string, body: MemoryEntryUpdate) =>
      core<MemoryEntry>(`/conversations/${enc(id)}/memory/${enc(entryId)}`, { method: 'PATCH', body }),
    deleteMemory: (id: string, entryId: string) =>
      core<void>(`/conversations/${enc(id)}/memory/${enc(entryId)}`, { method: 'DELETE' }),
    /** The spoiler boundary (null: where the scenario sits). */
    saveCanon: (id: string, body: CanonRequest) =>
      core<CanonOut>(`/conversations/${enc(id)}/canon`, { method: 'PUT', body }),
    forkConversation: (id: string, body: { title?: string; visibility?: Visibility } = {}) =>
      core<Conversation>(`/conversations/${enc(id)}/fork`, { method: 'POST', body }),
    /** The conversation as a file (whoever may read it). */
    exportConversation: (id: string, format: ConversationExportFormat) =>
      client.download('core', `/conversations/${enc(id)}/export`, {
        query: { format },
        fallbackName: `conversation-${id}.${format === 'gaji' ? 'json' : 'jsonl'}`,
      }),
    /** A Gaji export (.json) or a SillyTavern chat (.jsonl) as a NEW conversation of the reader's. */
    importConversation: (file: File, options: { scenario_id?: string; visibility?: Visibility } = {}) => {
      const form = new FormData();
      form.append('file', file);
      for (const [key, value] of Object.entries(options)) if (value) form.append(key, value);
      return core<Conversation>('/conversations/import', { method: 'POST', form });
    },
    /** The owner's lorebooks this conversation reads, in order. */
    conversationLorebooks: (id: string, signal?: AbortSignal) =>
      core<LorebookLinks>(`/conversations/${enc(id)}/lorebooks`, { signal }),
    setConversationLorebooks: (id: string, lorebookIds: string[]) =>
      core<LorebookLinks>(`/conversations/${enc(id)}/lorebooks`, { method: 'PUT', body: { lorebook_ids: lorebookIds } }),
    conversationTree: (id: string, signal?: AbortSignal) =>
      core<ConversationTreeNode>(`/conversations/${enc(id)}/tree`, { signal }),
    like: (id: string) => core<LikeResult>(`/conversations/${enc(id)}/like`, { method: 'POST' }),
    unlike: (id: string) => core<LikeResult>(`/conversations/${enc(id)}/unlike`, { method: 'DELETE' }),
    liked: (id: string, signal?: AbortSignal) => core<LikedStatus>(`/conversations/${enc(id)}/liked`, { signal }),
    memo: (id: string, signal?: AbortSignal) => core<Memo>(`/conversations/${enc(id)}/memo`, { signal }),
    saveMemo: (id: string, memoText: string) =>
      core<Memo>(`/conversations/${enc(id)}/memo`, { method: 'POST', body: { memo_text: memoText } }),
    deleteMemo: (id: string) => core<void>(`/conversations/${enc(id)}/memo`, { method: 'DELETE' }),

    // -- ai ---------------------------------------------------------------------
    models: (signal?: AbortSignal) => ai<ModelList>('/models', { signal }),
    characters: (novelId: string, signal?: AbortSignal) =>
      ai<Character[]>(`/novels/${enc(novelId)}/characters`, { signal }),
    searchPassages: (body: { query: string; novel_id: string; top_k: number }, signal?: AbortSignal) =>
      ai<PassageSearchResult>('/search/passages', { method: 'POST', body, signal }),
    ingestNovel: (file: File, metadata: Record<string, unknown>) => {
      const form = new FormData();
      form.append('file', file);
      form.append('metadata', JSON.stringify(metadata));
      return ai<IngestAccepted>('/novels/ingest', { method: 'POST', form });
    },
    ingestStatus: (jobId: string, signal?: AbortSignal) =>
      ai<IngestJob>(`/novels/status/${enc(jobId)}`, { signal }),
    ingestJobs: (query: Query, signal?: AbortSignal) => ai<Page<IngestJob>>('/novels/jobs', { query, signal }),
  };
}

export type Api = ReturnType<typeof makeApi>;

/** The options with their empty values left out. */
function stripEmpty(options: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) if (value) out[key] = value;
  return out;
}

/** The newest history entry with this id (history messages are public). */
export async function findMessage(api: Api, conversationId: string, messageId: string): Promise<ChatMessage | null> {
  const conversation = await api.conversation(conversationId);
  return conversation.messages.find((m) => m.id === messageId) ?? null;
}
