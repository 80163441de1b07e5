/** The conversation page's import/export parts: export buttons, the owner's
 * lorebooks, imported characters in the cast editor, the lore the prompt
 * inspector shows; and importing a conversation into a what-if. */

import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { ConversationImportForm } from '../components/ConversationImport';
import { PromptPanel } from '../components/PromptPanel';
import type { Cast, MessagePrompt } from '../lib/types';
import { FakeEventSource } from '../test/fakeEventSource';
import { conversationFixture } from '../test/fixtures';
import { captureDownloads, envelope, file, json, renderRoutes, USER_ID, type Handler } from '../test/harness';
import { ConversationPage } from './ConversationPage';

const CONV = '22222222-2222-4222-8222-222222222222';
const SCENARIO = '33333333-3333-4333-8333-333333333333';
const OTHER = '55555555-5555-4555-8555-555555555555';
const BOOK_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const BOOK_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const CARD_ID = '77777777-7777-4777-8777-777777777777';
const PAGE = (n: number) => ({ number: 0, size: 100, total_elements: n, total_pages: n ? 1 : 0 });

const lorebookItem = (id: string, name: string, entries: number) => ({
  id,
  name,
  kind: 'lorebook_v3',
  entry_count: entries,
  warnings: [],
  created_at: '2026-01-01T00:00:00Z',
});

function routes(owner: string, extra: Record<string, Handler> = {}): Record<string, Handler> {
  const cast: Cast = { narrator: false, members: [] };
  return {
    [`GET /conversations/${CONV}`]: () => json(200, conversationFixture({ owner })),
    [`GET /conversations/${CONV}/messages`]: () => json(200, { content: [], cursors: { older: null, newer: null } }),
    [`GET /conversations/${CONV}/cast`]: () => json(200, cast),
    [`GET /scenarios/${SCENARIO}`]: () => json(200, { id: SCENARIO, novel_id: null }),
    [`GET /conversations/${CONV}/liked`]: () => json(200, { is_liked: false, liked_at: null }),
    [`GET /conversations/${CONV}/export`]: ({ query }) =>
      query.get('format') === 'sillytavern'
        ? file('{"user_name":"You"}\n', 'application/x-ndjson', 'tea-at-netherfield.jsonl')
        : file('{"format":"gaji.conversation"}', 'application/json', 'tea-at-netherfield.json'),
    'GET /characters': () =>
      json(200, {
        content: [
          {
            id: CARD_ID,
            name: 'Seraphina',
            nickname: '',
            spec: 'chara_card_v2',
            container: 'json',
            spec_version: '2.0',
            tags: [],
            creator: '',
            has_image: false,
            lorebook_entries: 0,
            created_at: '2026-01-01T00:00:00Z',
          },
        ],
        page: PAGE(1),
      }),
    ...extra,
  };
}

function renderConversation(owner: string, extra: Record<string, Handler> = {}) {
  return renderRoutes([{ path: '/conversations/:id', element: <ConversationPage /> }], { at: `/conversations/${CONV}`, routes: routes(owner, extra) });
}

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal('EventSource', FakeEventSource);
});

describe('conversation export', () => {
  it('downloads Gaji JSON and SillyTavern JSONL with the token, under the server’s names', async () => {
    const user = userEvent.setup();
    const downloads = captureDownloads(onTestFinished);
    const { server } = renderConversation(OTHER);
    const box = await screen.findByTestId('conversation-export');
    await user.click(within(box).getByTestId('conversation-export-gaji'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['tea-at-netherfield.json']));
    await user.click(within(box).getByTestId('conversation-export-sillytavern'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['tea-at-netherfield.json', 'tea-at-netherfield.jsonl']));
    const sent = server.requests.filter((r) => r.path === `/conversations/${CONV}/export`);
    expect(sent.map((r) => r.query.get('format'))).toEqual(['gaji', 'sillytavern']);
    expect(sent[0].auth).toMatch(/^Bearer /);
    expect(await downloads[1].blob.text()).toBe('{"user_name":"You"}\n');
    expect(within(box).getByRole('status')).toHaveTextContent('Downloaded tea-at-netherfield.jsonl.');
    // Not the owner: no lorebook control.
    expect(screen.queryByTestId('lorebooks-toggle')).not.toBeInTheDocument();
  });

  it('shows a refused export in plain words', async () => {
    const user = userEvent.setup();
    captureDownloads(onTestFinished);
    renderConversation(OTHER, { [`GET /conversations/${CONV}/export`]: () => envelope(404, 'NOT_FOUND', 'No such conversation.') });
    await user.click(await screen.findByTestId('conversation-export-gaji'));
    expect(await within(screen.getByTestId('conversation-export')).findByTestId('error-banner')).toHaveTextContent('No such conversation.');
  });
});

describe('conversation lorebooks', () => {
  it('lets the owner choose their lorebooks, in order, and saves them', async () => {
    const user = userEvent.setup();
    const { server } = renderConversation(USER_ID, {
      [`GET /conversations/${CONV}/lorebooks`]: () => json(200, { lorebook_ids: [BOOK_B], lorebooks: [lorebookItem(BOOK_B, 'Meryton', 3)] }),
      'GET /lorebooks': () => json(200, { content: [lorebookItem(BOOK_A, 'Eldoria', 12), lorebookItem(BOOK_B, 'Meryton', 3)], page: PAGE(2) }),
      [`PUT /conversations/${CONV}/lorebooks`]: ({ body }) => {
        const ids = (body as { lorebook_ids: string[] }).lorebook_ids;
        return json(200, { lorebook_ids: ids, lorebooks: ids.map((id) => lorebookItem(id, id === BOOK_A ? 'Eldoria' : 'Meryton', 1)) });
      },
    });
    await user.click(await screen.findByTestId('lorebooks-toggle'));
    const panel = await screen.findByTestId('lorebook-links');
    const boxes = within(panel).getAllByTestId('lorebook-link');
    expect(boxes.map((b) => (b as HTMLInputElement).checked)).toEqual([false, true]);
    expect(panel).toHaveTextContent('Eldoria (12 entries)');
    await user.click(boxes[0]);
    await user.click(within(panel).getByTestId('lorebook-links-save'));
    await waitFor(() => expect(within(panel).getByRole('status')).toHaveTextContent('Saved.'));
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({ lorebook_ids: [BOOK_B, BOOK_A] });
  });

  it('shows the server’s refusal of a lorebook', async () => {
    const user = userEvent.setup();
    renderConversation(USER_ID, {
      [`GET /conversations/${CONV}/lorebooks`]: () => json(200, { lorebook_ids: [], lorebooks: [] }),
      'GET /lorebooks': () => json(200, { content: [lorebookItem(BOOK_A, 'Eldoria', 12)], page: PAGE(1) }),
      [`PUT /conversations/${CONV}/lorebooks`]: () =>
        envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { 'lorebook_ids.0': ['No lorebook of yours has this id.'] }),
    });
    await user.click(await screen.findByTestId('lorebooks-toggle'));
    await user.click(await screen.findByTestId('lorebook-link'));
    await user.click(screen.getByTestId('lorebook-links-save'));
    expect(await screen.findByTestId('field-error-lorebook_ids')).toHaveTextContent('No lorebook of yours has this id.');
  });
});

describe('imported characters in the cast', () => {
  it('adds one of the owner’s cards as card:<id>', async () => {
    const user = userEvent.setup();
    const { server } = renderConversation(USER_ID, {
      [`PUT /conversations/${CONV}/cast`]: ({ body }) => json(200, body),
    });
    const select = await screen.findByTestId('scene-card');
    await user.selectOptions(select, CARD_ID);
    await user.click(screen.getByTestId('scene-add-card'));
    const member = screen.getByTestId('scene-member');
    expect(member).toHaveTextContent('Seraphina');
    expect(member).toHaveTextContent('your character');
    expect(screen.queryByTestId('scene-card')).not.toBeInTheDocument();
    await user.click(screen.getByTestId('scene-save'));
    await waitFor(() => expect(server.requests.some((r) => r.method === 'PUT' && r.path.endsWith('/cast'))).toBe(true));
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      narrator: false,
      members: [{ character_id: `card:${CARD_ID}`, name: 'Seraphina', talkativeness: 0.5 }],
    });
  });
});

describe('the prompt inspector’s lore', () => {
  it('lists the entries that fired with their book and reason, as text', async () => {
    const prompt: MessagePrompt = {
      message_id: 'm1',
      attempt: 1,
      model: 'smollm2',
      provider: 'ollama',
      settings: {},
      messages: [],
      sections: [{ name: 'lore', tokens: 12, text: 'What is known of this world (lore):\nEldoria is the capital.' }],
      prompt_tokens: 12,
      truncated: false,
      lore: [
        { book: 'Eldoria', name: 'The capital', content: '<b>Eldoria</b> is the capital.', position: 'before_char', reason: 'key: capital' },
        { book: 'Eldoria', name: 'The king', content: 'The king is old.', position: 'after_char', reason: 'constant' },
      ],
    };
    const { container } = renderRoutes([{ path: '/', element: <PromptPanel conversationId={CONV} messageId="m1" /> }], {
      at: '/',
      routes: { [`GET /conversations/${CONV}/messages/m1/prompt`]: () => json(200, prompt) },
    });
    const items = await screen.findAllByTestId('prompt-lore');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('The capital · Eldoria · key: capital');
    expect(within(items[1]).getByTestId('prompt-lore-reason')).toHaveTextContent('constant');
    expect(items[0]).toHaveTextContent('<b>Eldoria</b> is the capital.');
    expect(container.querySelector('.prompt-lore b')).toBeNull();
  });

  it('shows no lore heading for a record without lore', async () => {
    renderRoutes([{ path: '/', element: <PromptPanel conversationId={CONV} messageId="m1" /> }], {
      at: '/',
      routes: {
        [`GET /conversations/${CONV}/messages/m1/prompt`]: () =>
          json(200, { message_id: 'm1', attempt: 1, model: 'm', provider: '', settings: {}, messages: [], sections: [], prompt_tokens: 0, truncated: false }),
      },
    });
    expect(await screen.findByTestId('prompt-panel')).toBeInTheDocument();
    expect(screen.queryByText('Lore that fired')).not.toBeInTheDocument();
  });
});

describe('<ConversationImportForm> on a what-if', () => {
  it('imports a Gaji export into the what-if and opens it', async () => {
    const user = userEvent.setup();
    const { server } = renderRoutes([{ path: '/scenarios/:id', element: <ConversationImportForm scenarioId={SCENARIO} /> }], {
      at: `/scenarios/${SCENARIO}`,
      routes: { 'POST /conversations/import': () => json(201, { id: 'imported-conv' }) },
    });
    expect(screen.queryByTestId('conversation-import-scenario')).not.toBeInTheDocument();
    await user.upload(screen.getByTestId('conversation-import-file'), new File(['{"format":"gaji.conversation"}'], 'export.json'));
    await user.selectOptions(screen.getByTestId('conversation-import-visibility'), 'private');
    await user.click(screen.getByTestId('conversation-import-submit'));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/conversations/imported-conv'));
    const form = server.requests[0].form;
    expect(form?.get('scenario_id')).toBe(SCENARIO);
    expect(form?.get('visibility')).toBe('private');
  });

  it('refuses a file over 5 MB before sending it', async () => {
    const user = userEvent.setup();
    const { server } = renderRoutes([{ path: '/', element: <ConversationImportForm scenarioId={SCENARIO} /> }], { at: '/', routes: {} });
    const big = new File(['x'], 'export.json');
    Object.defineProperty(big, 'size', { value: 6 * 1024 * 1024 });
    await user.upload(screen.getByTestId('conversation-import-file'), big);
    await user.click(screen.getByTestId('conversation-import-submit'));
    expect(await screen.findByTestId('field-error-file')).toHaveTextContent('larger than 5.0 MB');
    expect(server.requests).toHaveLength(0);
  });
});
