/** Response shapes of core (/api/v1) and ai (/api/ai), as their
 * serializers write them (snake_case, as on the wire). */

export interface PageInfo {
  number: number;
  size: number;
  total_elements: number;
  total_pages: number;
  /** Search may count approximately on huge results. */
  total_is_estimate?: boolean;
}

export interface Page<T> {
  content: T[];
  page: PageInfo;
}

export interface AuthTokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

export interface AuthUser {
  id: string;
  email: string;
  username: string;
  bio?: string;
  avatar_url?: string | null;
  created_at?: string;
}

export interface AuthResponse {
  user: AuthUser;
  tokens: AuthTokens;
}

export interface PublicProfile {
  id: string;
  username: string;
  bio: string;
  avatar_url: string | null;
  follower_count: number;
  following_count: number;
  scenario_count: number;
  conversation_count: number;
  joined_at: string;
}

export interface FollowEntry {
  id: string;
  username: string;
  avatar_url: string | null;
  is_mutual: boolean;
  followed_at: string;
}

export interface FollowStatus {
  is_following: boolean;
  is_mutual: boolean;
  followed_at: string | null;
}

export type IngestionStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'missing';

export interface Novel {
  id: string;
  slug: string;
  title: string;
  author: string;
  publication_year: number | null;
  genre: string;
  language: string;
  ingestion_status: IngestionStatus;
  total_passages: number;
  total_characters: number;
  vectordb_collection_id?: string | null;
  created_at: string;
  updated_at: string;
}

export type ScenarioType = 'CHARACTER_CHANGE' | 'EVENT_ALTERATION' | 'SETTING_MODIFICATION';

export type ScenarioParameters = Record<string, unknown>;

export interface UserRef {
  id: string;
  username: string;
  avatar_url?: string | null;
}

export interface Scenario {
  id: string;
  base_story: string;
  novel_id: string | null;
  parent_scenario_id: string | null;
  parent: { id: string; is_deleted: boolean } | null;
  scenario_type: ScenarioType;
  parameters: ScenarioParameters;
  quality_score: number;
  creator_id: string;
  creator: UserRef;
  fork_count: number;
  conversation_count: number;
  created_at: string;
  updated_at: string;
}

export interface ScenarioSearchItem {
  id: string;
  base_story: string;
  scenario_type: ScenarioType;
  parameters: ScenarioParameters;
  quality_score: number;
  fork_count: number;
  conversation_count: number;
  created_at: string;
  relevance_score: number | null;
  creator: UserRef;
}

export interface ScenarioSearchPage extends Page<ScenarioSearchItem> {
  facets?: {
    scenario_types?: Partial<Record<ScenarioType, number>>;
    quality_ranges?: Record<string, number>;
  };
  matched_by?: 'full_text' | 'trigram' | null;
}

export interface ForksPage {
  parent: { id: string; base_story: string; scenario_type: string };
  forks: Scenario[];
  page: PageInfo;
}

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

export type MessageStatus = 'pending' | 'streaming' | 'completed' | 'failed' | 'cancelled';

/** A passage of the novel an answer's prompt held (numbered [1], [2], ... in
 * the prompt in list order), with the start of the text the model read. */
export interface Citation {
  passage_id: string;
  chapter: number;
  chapter_title: string;
  chunk_index: number;
  quote: string;
}

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant' | string;
  content: string;
  status: MessageStatus;
  model?: string;
  total_tokens?: number | null;
  degraded?: boolean;
  grounded?: boolean | null;
  /** The passages the answer is grounded in ([] for user messages and ungrounded answers). */
  citations?: Citation[];
  position?: number;
  created_at?: string;
  updated_at?: string;
  completed_at?: string | null;
}

export interface ConversationListItem {
  id: string;
  title: string;
  parent_conversation_id: string | null;
  is_fork: boolean;
  scenario: { id: string; base_story: string; scenario_type: string };
  user: UserRef;
  like_count: number;
  message_count: number;
  created_at: string;
  updated_at: string;
  liked_at?: string;
}

export interface Conversation extends Omit<ConversationListItem, 'scenario'> {
  scenario_id: string;
  user_id: string;
  scenario: {
    id: string;
    base_story: string;
    scenario_type: ScenarioType;
    parameters: ScenarioParameters;
    is_deleted: boolean;
  };
  messages: ChatMessage[];
  messages_truncated: boolean;
}

export interface MessagePage {
  content: ChatMessage[];
  page: PageInfo | null;
  cursors: { older: string | null; newer: string | null };
}

export interface ChatTurn {
  message_id: string;
  assistant_message_id: string;
  stream_url: string;
  stream_expires_at: string;
}

export interface StreamTicket {
  stream_url: string;
  stream_expires_at: string;
}

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

export interface LikeResult {
  total_likes: number;
  liked_at?: string;
}

export interface LikedStatus {
  is_liked: boolean;
  liked_at: string | null;
}

export interface Memo {
  memo_text: string;
  created_at: string;
  updated_at: string;
}

export interface Character {
  vectordb_id: string;
  novel_id: string;
  name: string;
  aliases: string[];
  description: string;
  personality_traits: string[];
  role: string;
  first_chapter: number;
  mention_count: number;
}

export interface Passage {
  id: string;
  text: string;
  similarity_score: number;
  chunk_index: number;
  chapter: number;
  metadata: {
    novel_id: string;
    novel_title: string;
    chapter_title: string;
    start_offset: number;
    end_offset: number;
  };
}

export interface PassageSearchResult {
  passages: Passage[];
  total_results: number;
  query_embedding_time_ms: number;
  search_time_ms: number;
}

export interface IngestAccepted {
  job_id: string;
  status: string;
  estimated_duration_minutes: number;
  message: string;
}

export type JobState = 'queued' | 'processing' | 'completed' | 'failed';

export interface IngestJob {
  job_id: string;
  status: JobState | string;
  novel_id: string | null;
  title: string | null;
  progress: {
    passages_processed: number;
    passages_total: number;
    characters_extracted: number;
    locations_extracted: number;
    events_extracted: number;
  };
  error: string | null;
  attempts?: number;
  created_at?: string | null;
  updated_at?: string | null;
  completed_at?: string | null;
}
