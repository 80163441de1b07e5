/** What the services send, as tests use it: one novel and one conversation,
 * each with the fields a test changes given in `over`. */

import type { ChatMessage, Conversation, Novel, Visibility } from '../lib/types';
import { USER_ID } from './harness';

export const NOVEL_ID = '44444444-4444-4444-8444-444444444444';
export const CONVERSATION_ID = '22222222-2222-4222-8222-222222222222';
export const SCENARIO_ID = '33333333-3333-4333-8333-333333333333';

/** Pride and Prejudice, a catalogue novel read to the end. */
export function novelFixture(over: Partial<Novel> = {}): Novel {
  return {
    id: NOVEL_ID,
    slug: 'pride-and-prejudice',
    title: 'Pride and Prejudice',
    author: 'Jane Austen',
    publication_year: 1813,
    genre: 'novel',
    language: 'en',
    ingestion_status: 'completed',
    total_passages: 885,
    total_characters: 30,
    vectordb_collection_id: 'novel_passages',
    owner_id: null,
    visibility: 'public',
    source: 'catalogue',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...over,
  } as Novel;
}

/** "Tea at Netherfield", the reader's (`owner`) conversation on a what-if of Pride and Prejudice. */
export function conversationFixture({
  owner = USER_ID,
  messages = [],
  visibility = 'public',
  likes = 0,
}: { owner?: string; messages?: ChatMessage[]; visibility?: Visibility; likes?: number } = {}): Conversation {
  return {
    visibility,
    id: CONVERSATION_ID,
    title: 'Tea at Netherfield',
    parent_conversation_id: null,
    is_fork: false,
    scenario_id: SCENARIO_ID,
    user_id: owner,
    scenario: {
      id: SCENARIO_ID,
      base_story: 'pride-and-prejudice',
      scenario_type: 'CHARACTER_CHANGE',
      parameters: { character: 'Elizabeth Bennet', property: 'personality', new_value: 'Shy' },
      is_deleted: false,
    },
    user: { id: owner, username: 'reader', avatar_url: null },
    like_count: likes,
    message_count: messages.length,
    messages,
    messages_truncated: false,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}
