/** Response shapes of core (/api/v1) and ai (/api/ai): the types generated
 * from their OpenAPI documents (src/api/core.ts and src/api/ai.ts, by
 * `make api-types`), under the names the app uses. Only the JSON fields the
 * documents give as free objects are typed more closely here. */

import type { components as AiComponents } from '../api/ai';
import type { components as CoreComponents } from '../api/core';

type Core = CoreComponents['schemas'];
type Ai = AiComponents['schemas'];

/** Search may count approximately on huge results (`total_is_estimate`). */
export type PageInfo = Core['PageInfo'] & Partial<Pick<Core['EstimatedPageInfo'], 'total_is_estimate'>>;

export interface Page<T> {
  content: T[];
  page: PageInfo;
}

export type AuthTokens = Core['Tokens'];
export type AuthUser = Core['RegisterApiOutputUser'] & Partial<Core['LoginApiOutputUser']>;

export interface AuthResponse {
  user: AuthUser;
  tokens: AuthTokens;
}

export type PublicProfile = Core['PublicProfile'];
export type FollowEntry = Core['FollowEntry'];
export type FollowStatus = Core['IsFollowingApiOutput'];
export type IngestionStatus = Core['IngestionStatusEnum'];
export type Novel = Core['Novel'];
export type ScenarioType = Core['ScenarioTypeEnum'];

/** A scenario's parameters: one of the three parameter schemas, by its type
 * (src/lib/scenarioSchema.ts reads each type's fields). */
export type ScenarioParameters = Record<string, unknown>;

export type UserRef = Pick<Core['Creator'], 'id' | 'username'> & Partial<Core['Creator']>;
export type Scenario = Omit<Core['Scenario'], 'parameters'> & { parameters: ScenarioParameters };
export type ScenarioSearchItem = Omit<Core['ScenarioSearchItem'], 'parameters'> & {
  parameters: ScenarioParameters;
};
export type ScenarioSearchPage = Omit<Core['ScenarioSearchPage'], 'content'> & { content: ScenarioSearchItem[] };
export type ForksPage = Omit<Core['ForksPage'], 'forks'> & { forks: Scenario[] };

export interface ForkTreeNode {
  id: string;
  is_deleted: boolean;
  base_story?: string;
  scenario_type?: ScenarioType;
  parameters?: ScenarioParameters;
  fork_count?: number;
  quality_score?: number;
  created_at?: string;
  children: ForkTreeNode[];
  depth?: number;
  total_descendants?: number;
}

export interface AncestorEntry {
  id: string;
  depth: number;
  is_deleted: boolean;
  base_story?: string;
  scenario_type?: ScenarioType;
  parameters?: ScenarioParameters;
  parent_id?: string | null;
  created_at?: string;
}

export interface Ancestors {
  scenario_id: string;
  path: AncestorEntry[];
}

export type MessageStatus = Core['MessageStatusEnum'];
export type Citation = Core['Citation'];
type StoredMessage = Core['ConversationMessage'];
/** A message as the page shows it: as stored, or built in the page while
 * its answer streams (only id, role, content and status are known then). */
export type ChatMessage = Pick<StoredMessage, 'id' | 'role' | 'content' | 'status'> &
  Partial<Omit<StoredMessage, 'id' | 'role' | 'content' | 'status'>>;
export type ConversationListItem = Core['ConversationListItem'] & { liked_at?: string };
export type Conversation = Omit<Core['Conversation'], 'scenario' | 'messages'> & {
  messages: ChatMessage[];
  scenario: Omit<Core['Conversation']['scenario'], 'parameters'> & { parameters: ScenarioParameters };
};
export type MessagePage = Omit<Core['MessagePage'], 'content'> & { content: ChatMessage[] };
export type ChatTurn = Core['ChatTurn'];
/** Who said a message: the reader, a character or the narrator. */
export type MessageSpeaker = Core['MessageSpeaker'];
/** Who should answer (when sending or continuing the scene). */
export type SpeakerInput = Core['SpeakerInputRequest'];
export type TurnAnswer = Core['TurnAnswer'];
/** A member of the scene: every field is always in a response. */
export type CastMember = Required<Core['CastMember']>;
export type Cast = Omit<Core['Cast'], 'members'> & { members: CastMember[] };
export type CastRequest = Core['CastRequest'];
/** A lorebook entry that reached an answer's prompt, and why it fired. */
export type PromptLoreEntry = Core['InspectedLore'];
/** What the model received for an answer (`lore`: absent from a core before lorebooks). */
export type MessagePrompt = Omit<Core['MessagePrompt'], 'lore'> & { lore?: PromptLoreEntry[] };
export type PromptSection = Core['InspectedSection'];
export type TimelineStep = Omit<Core['TimelineStep'], 'parameters'> & { parameters: ScenarioParameters };
export type Timeline = Omit<Core['Timeline'], 'steps'> & { steps: TimelineStep[] };
export type StreamTicket = Pick<Core['MessageStream'], 'stream_url' | 'stream_expires_at'>;

/** A conversation's memory (the owner and staff): what happened, what each
 * character knows, relationships and layered summaries. */
export type MemoryKind = Core['MemoryEntryKindEnum'];
/** The kinds a reader may add (summaries are folded by the model). */
export type MemoryCreateKind = Core['MemoryEntryCreateKindEnum'];
export type MemoryEntry = Core['MemoryEntry'];
export type RelationshipChange = Core['RelationshipChange'];
/** A character of the scene and the key `known_by` names it by. */
export type Knower = Core['Knower'];
export type MemoryPage = Omit<Core['MemoryPage'], 'page'> & { page: PageInfo };
/** Every field but `text` may be left out (core's defaults apply). */
export type MemoryEntryCreate = Partial<Core['MemoryEntryCreateRequest']> & Pick<Core['MemoryEntryCreateRequest'], 'text'>;
/** Only the fields sent change (`everyone: true`: known to everyone). */
export type MemoryEntryUpdate = Partial<Core['PatchedMemoryEntryUpdateRequest']>;
export type CanonRequest = Core['CanonRequest'];
export type CanonOut = Core['CanonOut'];

export interface ConversationTreeNode {
  id: string;
  title: string;
  scenario_id: string;
  user: { id: string; username: string };
  like_count: number;
  message_count: number;
  created_at: string;
  parent_conversation_id?: string | null;
  children: ConversationTreeNode[];
  depth?: number;
  total_descendants?: number;
}

export type LikeResult = Core['LikeResult'];
export type LikedStatus = Core['LikedStatus'];
export type Memo = Core['Memo'];

export type Character = Ai['Character'];
export type Passage = Ai['PassageOut'];
export type PassageSearchResult = Ai['PassageSearchResult'];
export type IngestAccepted = Ai['IngestAccepted'];
export type IngestJob = Ai['JobStatus'];
export type JobState = IngestJob['status'];

/** GET /api/ai/models: the models a turn may choose (`default` when none is given). */
export type ModelList = Ai['ModelList'];

// Accounts, settings, visibility, message versions and search, notifications
// ---------------------------------------------------------------------------------------

/** Who may see a conversation: private (owner and staff), unlisted (anyone
 * with the link, in no list), public (everyone). */
export type Visibility = Core['VisibilityEnum'];
/** PUT /conversations/{id}: what the rename or visibility change left. */
export type ConversationUpdated = Core['ConversationDetailApiUpdated'];
export type Me = Core['Me'];
/** PATCH /users/me: any of these; an email change needs `current_password`. */
export type MeUpdate = Core['PatchedMeApiUpdateRequest'];
/** A plain acknowledgement (password reset request and confirm). */
export type DetailResponse = Core['Detail'];
/** GET /users/me/export: everything the reader owns, as one JSON document. */
export type AccountExport = Core['Export'];
export type ResponseStyle = Core['ResponseStyleEnum'];
/** GET/PUT /users/me/settings (null: the service's default). */
export type UserSettings = Core['Settings'];
/** PUT /users/me/settings: omitted keys keep their values, null resets. */
export type UserSettingsUpdate = Partial<UserSettings>;
/** PATCH /conversations/{id}/messages/{mid}: the edited message, and the
 * regenerated answers' turn when asked for (else null). */
export type MessageEditResult = Core['MessageEditResult'];
export type AlternativeItem = Core['Alternative'];
export type Alternatives = Core['Alternatives'];
export type MessageSearchHit = Core['MessageHit'];
export type MyMessageSearchHit = Core['MyMessageHit'];
export type NotificationKind = Core['NotificationKindEnum'];
/** A notification (named so as not to hide the DOM's `Notification`). */
export type AppNotification = Core['Notification'];
export type NotificationPage = Core['NotificationPage'];
export type NotificationReadResult = Core['ReadResult'];

/** The `data` of a live `notification` event. */
export interface NotificationEvent {
  notification: AppNotification;
  unread_count: number;
}

// Bring your own: story imports, character cards, lorebooks, exports
// ---------------------------------------------------------------------------------------

/** A novel as its owner sees it (where it came from, its ingestion job). */
export type OwnNovel = Core['OwnNovel'];
/** The reader's story-import quota (stories and bytes). */
export type NovelQuota = Core['Quota'];
export type OwnNovelPage = Omit<Core['OwnNovelPage'], 'page'> & { page: PageInfo };
/** POST novels/imports (202): the new novel and its ingestion job on ai. */
export type NovelImportAccepted = Core['NovelImportApiAccepted'];
export type NovelImportOptions = { title?: string; author?: string; language?: string; visibility?: Visibility };
/** PATCH novels/{id}: the owner renames it or changes who sees it. */
export type NovelUpdate = Core['PatchedNovelDetailApiUpdateRequest'];

/** An imported character card: its texts exactly as stored (raw text, shown escaped). */
export type CharacterCard = Core['Card'];
export type CharacterCardItem = Core['CardListItem'];
export type CardFormat = 'json' | 'png' | 'charx';
export type LorebookItem = Core['LorebookItem'];
export type Lorebook = Core['Lorebook'];
export type LorebookEntry = Core['Entry'];
export type LorebookFormat = 'lorebook_v3' | 'worldinfo';
/** GET/PUT conversations/{id}/lorebooks. */
export type LorebookLinks = Core['LinksOut'];
export type ConversationExportFormat = 'gaji' | 'sillytavern';
