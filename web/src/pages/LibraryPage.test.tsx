import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { CharacterCard, IngestJob, Lorebook, OwnNovel } from '../lib/types';
import { captureDownloads, envelope, file, json, renderRoutes, USER_ID, type Handler } from '../test/harness';
import { LIBRARY_TIMING, LibraryPage } from './LibraryPage';

const NOVEL_ID = '66666666-6666-4666-8666-666666666666';
const CARD_ID = '77777777-7777-4777-8777-777777777777';
const BOOK_ID = '88888888-8888-4888-8888-888888888888';
const PAGE = (n: number) => ({ number: 0, size: 20, total_elements: n, total_pages: n ? 1 : 0 });

function ownNovel(over: Partial<OwnNovel> = {}): OwnNovel {
  return {
    id: NOVEL_ID,
    slug: 'my-story',
    title: 'My Story',
    author: 'Me',
    publication_year: null,
    genre: '',
    language: 'en',
    ingestion_status: 'processing',
    total_passages: 0,
    total_characters: 0,
    vectordb_collection_id: '',
    owner_id: USER_ID,
    visibility: 'private',
    source: 'upload',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    source_url: '',
    source_bytes: 2048,
    ingest_job_id: 'job-1',
    ...over,
  } as OwnNovel;
}

function job(status: IngestJob['status'], processed: number, total: number, error: string | null = null): IngestJob {
  return {
    job_id: 'job-1',
    status,
    novel_id: NOVEL_ID,
    title: 'My Story',
    progress: {
      passages_processed: processed,
      passages_total: total,
      windows_processed: 0,
      windows_total: 0,
      characters_extracted: 3,
      locations_extracted: 0,
      events_extracted: 0,
    },
    error,
    attempts: 1,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    completed_at: null,
  };
}

const QUOTA = { used_count: 1, max_count: 10, used_bytes: 2048, max_bytes: 50 * 1024 * 1024 };

function card(over: Partial<CharacterCard> = {}): CharacterCard {
  return {
    id: CARD_ID,
    name: 'Seraphina',
    spec: 'chara_card_v3',
    container: 'png',
    spec_version: '3.0',
    warnings: ['spec_version 3.4 is newer than 3.0; imported as 3.0'],
    description: '<script>alert("x")</script><b>bold</b> guardian',
    personality: 'kind',
    scenario: '',
    first_mes: '<img src=x onerror=alert(1)>Hello, traveller.',
    mes_example: '',
    system_prompt: '',
    post_history_instructions: '',
    alternate_greetings: ['Greetings again.'],
    group_only_greetings: [],
    tags: ['fantasy'],
    creator: 'someone',
    creator_notes: '',
    character_version: '1',
    nickname: 'Sera',
    has_image: true,
    assets: [],
    lorebook_entries: 2,
    created_at: '2026-01-01T00:00:00Z',
    ...over,
  } as CharacterCard;
}

function book(): Lorebook {
  return {
    id: BOOK_ID,
    name: 'Eldoria',
    kind: 'worldinfo',
    entry_count: 1,
    warnings: [],
    created_at: '2026-01-01T00:00:00Z',
    entries: [
      {
        id: '0',
        name: 'The capital',
        keys: ['Eldoria', 'capital'],
        secondary_keys: [],
        constant: false,
        enabled: true,
        insertion_order: 100,
        priority: 10,
        position: 'before_char',
        content: '<i>Eldoria</i> is the capital.',
      },
    ],
  } as Lorebook;
}

function renderLibrary(at: string, routes: Record<string, Handler>) {
  return renderRoutes([{ path: '/library', element: <LibraryPage /> }], { at, routes });
}

beforeEach(() => {
  LIBRARY_TIMING.pollMs = 20;
});
afterEach(() => {
  LIBRARY_TIMING.pollMs = 1000;
});

describe('<LibraryPage> stories', () => {
  it('imports a file with title and visibility, then follows the job until it has completed', async () => {
    const user = userEvent.setup();
    const state = { novels: [] as OwnNovel[], polls: 0 };
    const { server } = renderLibrary('/library', {
      'GET /users/me/novels': () => json(200, { content: state.novels, page: PAGE(state.novels.length), quota: QUOTA }),
      'POST /novels/imports': () => {
        state.novels = [ownNovel()];
        return json(202, { novel: ownNovel(), job_id: 'job-1', estimated_duration_minutes: 2.4 });
      },
      'GET /ai/novels/status/job-1': () => {
        state.polls += 1;
        if (state.polls === 1) return json(200, job('processing', 40, 100));
        state.novels = [ownNovel({ ingestion_status: 'completed', total_passages: 100 })];
        return json(200, job('completed', 100, 100));
      },
    });
    expect(await screen.findByText('You have not imported a story yet.')).toBeInTheDocument();
    expect(screen.getByTestId('story-quota')).toHaveTextContent('1 of 10 stories · 2.0 KB of 50 MB used');
    await user.upload(screen.getByTestId('story-file'), new File(['It was a dark and stormy night.'], 'story.txt', { type: 'text/plain' }));
    await user.type(screen.getByTestId('story-title'), 'My Story');
    await user.selectOptions(screen.getByTestId('story-visibility'), 'unlisted');
    await user.click(screen.getByTestId('story-submit'));

    expect(await screen.findByTestId('story-accepted')).toHaveTextContent('“My Story” is being read: about 2 min.');
    const sent = server.requests.find((r) => r.method === 'POST' && r.path === '/novels/imports');
    expect(sent?.form?.get('title')).toBe('My Story');
    expect(sent?.form?.get('visibility')).toBe('unlisted');
    expect((sent?.form?.get('file') as File).name).toBe('story.txt');
    expect(sent?.form?.has('author')).toBe(false);

    // Progress while it runs, then the list again once it has completed.
    const progress = await screen.findByTestId('story-progress');
    await waitFor(() => expect(progress.querySelector('progress')).toHaveAttribute('value', '40'));
    expect(progress).toHaveTextContent('40 / 100 passages');
    await waitFor(() => expect(screen.getByTestId('story')).toHaveAttribute('data-status', 'completed'));
    expect(screen.queryByTestId('story-progress')).not.toBeInTheDocument();
    expect(within(screen.getByTestId('story')).getByRole('link', { name: 'My Story' })).toHaveAttribute('href', '/novels/my-story');
    expect(state.polls).toBe(2);
  });

  it('shows a failed ingestion with its reason', async () => {
    renderLibrary('/library', {
      'GET /users/me/novels': () => json(200, { content: [ownNovel()], page: PAGE(1), quota: QUOTA }),
      'GET /ai/novels/status/job-1': () => json(200, job('failed', 3, 100, 'The text has no chapters we could read.')),
    });
    expect(await screen.findByTestId('story-job-error')).toHaveTextContent('The text has no chapters we could read.');
    expect(screen.getByTestId('story-progress')).toHaveAttribute('data-status', 'failed');
  });

  it('imports from a URL as JSON and shows a refusal under the URL field', async () => {
    const user = userEvent.setup();
    const { server } = renderLibrary('/library', {
      'GET /users/me/novels': () => json(200, { content: [], page: PAGE(0), quota: QUOTA }),
      'POST /novels/imports': () =>
        envelope(400, 'VALIDATION_ERROR', 'The address is not allowed.', { url: ['The address resolves to a private network (10.0.0.5).'] }),
    });
    await screen.findByTestId('story-import');
    await user.click(screen.getByTestId('story-mode-url'));
    await user.type(screen.getByTestId('story-url'), 'ftp://example.org/book.txt');
    await user.click(screen.getByTestId('story-submit'));
    expect(await screen.findByTestId('field-error-url')).toHaveTextContent('http:// or https://');
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);

    await user.clear(screen.getByTestId('story-url'));
    await user.type(screen.getByTestId('story-url'), 'http://intranet.example/book.txt');
    await user.click(screen.getByTestId('story-submit'));
    expect(await screen.findByTestId('field-error-url')).toHaveTextContent('resolves to a private network');
    expect(screen.getByTestId('error-banner')).toHaveTextContent('The address is not allowed.');
    expect(server.requests.find((r) => r.method === 'POST')?.body).toEqual({ url: 'http://intranet.example/book.txt', visibility: 'private' });
  });

  it('shows 413 and 409 (quota) in plain words, and checks the file first', async () => {
    const user = userEvent.setup({ applyAccept: false });
    let answer = envelope(413, 'PAYLOAD_TOO_LARGE', 'The file is too large (at most 10 MB).', { file: ['At most 10 MB.'] });
    const { server } = renderLibrary('/library', {
      'GET /users/me/novels': () => json(200, { content: [], page: PAGE(0), quota: QUOTA }),
      'POST /novels/imports': () => answer,
    });
    await screen.findByTestId('story-import');
    await user.upload(screen.getByTestId('story-file'), new File(['x'], 'story.pdf'));
    await user.click(screen.getByTestId('story-submit'));
    expect(await screen.findByTestId('field-error-file')).toHaveTextContent('Only .txt, .md and .epub files');
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);

    await user.upload(screen.getByTestId('story-file'), new File(['x'.repeat(300)], 'story.epub'));
    await user.click(screen.getByTestId('story-submit'));
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('The file is too large (at most 10 MB).');
    expect(screen.getByTestId('field-error-file')).toHaveTextContent('At most 10 MB.');

    answer = envelope(409, 'QUOTA_EXCEEDED', 'You have imported 10 of 10 stories: delete one first.');
    await user.click(screen.getByTestId('story-submit'));
    await waitFor(() => expect(screen.getByTestId('error-banner')).toHaveTextContent('You have imported 10 of 10 stories'));
    expect(screen.getByTestId('error-banner')).toHaveAttribute('data-code', 'QUOTA_EXCEEDED');
  });

  it('changes a story’s visibility and deletes it after a confirmation', async () => {
    const user = userEvent.setup();
    const state = { novels: [ownNovel({ ingestion_status: 'completed', ingest_job_id: '' })] };
    const { server } = renderLibrary('/library', {
      'GET /users/me/novels': () => json(200, { content: state.novels, page: PAGE(state.novels.length), quota: QUOTA }),
      [`PATCH /novels/${NOVEL_ID}`]: ({ body }) => json(200, { ...state.novels[0], ...(body as object) }),
      [`DELETE /novels/${NOVEL_ID}`]: () => {
        state.novels = [];
        return new Response(null, { status: 204 });
      },
    });
    const select = await screen.findByTestId('story-visibility-select');
    await user.selectOptions(select, 'public');
    await waitFor(() => expect(within(screen.getByTestId('story')).getByTestId('visibility-badge')).toHaveTextContent('Public'));
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ visibility: 'public' });

    await user.click(screen.getByTestId('story-delete'));
    expect(server.requests.some((r) => r.method === 'DELETE')).toBe(false);
    await user.click(screen.getByTestId('story-delete-confirm'));
    expect(await screen.findByText('You have not imported a story yet.')).toBeInTheDocument();
  });
});

describe('<LibraryPage> characters', () => {
  it('imports a card and shows its texts as plain text, never as markup', async () => {
    const user = userEvent.setup();
    const downloads = captureDownloads(onTestFinished);
    const state = { cards: [] as CharacterCard[] };
    const { server, container } = renderLibrary('/library?tab=characters', {
      'GET /characters': () =>
        json(200, {
          content: state.cards.map((c) => ({ ...c, nickname: c.nickname })),
          page: PAGE(state.cards.length),
        }),
      'POST /characters/import': () => {
        state.cards = [card()];
        return json(201, card());
      },
      [`GET /characters/${CARD_ID}/image`]: () => file('PNG', 'image/png', null),
      [`GET /characters/${CARD_ID}/export`]: ({ query }) =>
        file(query.get('format') === 'json' ? '{"spec":"chara_card_v3"}' : 'BYTES', 'application/octet-stream', `Seraphina.${query.get('format')}`),
    });
    expect(await screen.findByText('No characters yet: import a Character Card.')).toBeInTheDocument();
    await user.upload(screen.getByTestId('card-file'), new File(['\x89PNG'], 'sera.png', { type: 'image/png' }));
    await user.click(screen.getByTestId('card-submit'));

    const detail = await screen.findByTestId('character-detail');
    expect(within(detail).getByTestId('character-description').textContent).toBe('<script>alert("x")</script><b>bold</b> guardian');
    expect(within(detail).getByTestId('character-first-mes')).toHaveTextContent('<img src=x onerror=alert(1)>Hello, traveller.');
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
    expect(container.querySelector('img[src="x"]')).toBeNull();
    expect(within(detail).getByTestId('import-warnings')).toHaveTextContent('spec_version 3.4 is newer than 3.0');
    expect((server.requests.find((r) => r.path === '/characters/import')?.form?.get('file') as File).name).toBe('sera.png');

    // The picture is fetched with the token and shown as a data: URL (the page's CSP allows those).
    await waitFor(() => expect(screen.getAllByTestId('character-image').length).toBeGreaterThan(0));
    expect(screen.getAllByTestId('character-image')[0].getAttribute('src')).toBe(`data:image/png;base64,${btoa('PNG')}`);
    const imageRequest = server.requests.find((r) => r.path === `/characters/${CARD_ID}/image`);
    expect(imageRequest?.auth).toMatch(/^Bearer /);

    // Exports: one request per format, saved under the server's name.
    await user.click(within(detail).getByTestId('character-export-json'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['Seraphina.json']));
    await user.click(within(detail).getByTestId('character-export-png'));
    await user.click(await within(detail).findByTestId('character-export-charx'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['Seraphina.json', 'Seraphina.png', 'Seraphina.charx']));
    const formats = server.requests.filter((r) => r.path === `/characters/${CARD_ID}/export`).map((r) => r.query.get('format'));
    expect(formats).toEqual(['json', 'png', 'charx']);
    expect(await downloads[0].blob.text()).toBe('{"spec":"chara_card_v3"}');
  });

  it('shows a refused card’s reason under the file field', async () => {
    const user = userEvent.setup();
    renderLibrary('/library?tab=characters', {
      'GET /characters': () => json(200, { content: [], page: PAGE(0) }),
      'POST /characters/import': () =>
        envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { file: ['The PNG is corrupt: CRC mismatch in chunk tEXt.'] }),
    });
    await user.upload(await screen.findByTestId('card-file'), new File(['junk'], 'bad.png', { type: 'image/png' }));
    await user.click(screen.getByTestId('card-submit'));
    expect(await screen.findByTestId('field-error-file')).toHaveTextContent('CRC mismatch');
    expect(screen.getByTestId('card-file')).toHaveAttribute('aria-invalid', 'true');
  });

  it('opens a listed card and deletes it', async () => {
    const user = userEvent.setup();
    captureDownloads(onTestFinished);
    const state = { cards: [card({ has_image: false })] };
    renderLibrary('/library?tab=characters', {
      'GET /characters': () => json(200, { content: state.cards, page: PAGE(state.cards.length) }),
      [`GET /characters/${CARD_ID}`]: () => json(200, state.cards[0]),
      [`DELETE /characters/${CARD_ID}`]: () => {
        state.cards = [];
        return new Response(null, { status: 204 });
      },
    });
    const item = await screen.findByTestId('character-card');
    expect(item).toHaveTextContent('Seraphina');
    expect(item).toHaveTextContent('Card V3 (3.0) · PNG');
    await user.click(within(item).getByTestId('character-open'));
    const detail = await screen.findByTestId('character-detail');
    await user.click(within(detail).getByTestId('character-delete'));
    await user.click(within(detail).getByTestId('character-delete-confirm'));
    expect(await screen.findByText('No characters yet: import a Character Card.')).toBeInTheDocument();
    expect(screen.queryByTestId('character-detail')).not.toBeInTheDocument();
  });
});

describe('<LibraryPage> lorebooks', () => {
  it('imports a lorebook, lists its entries as text and exports both formats', async () => {
    const user = userEvent.setup();
    const downloads = captureDownloads(onTestFinished);
    const state = { books: [] as Lorebook[] };
    const { server, container } = renderLibrary('/library?tab=lorebooks', {
      'GET /lorebooks': () => json(200, { content: state.books, page: PAGE(state.books.length) }),
      'POST /lorebooks/import': () => {
        state.books = [book()];
        return json(201, book());
      },
      [`GET /lorebooks/${BOOK_ID}/export`]: ({ query }) => file('{}', 'application/json', `Eldoria-${query.get('format')}.json`),
    });
    expect(await screen.findByText('No lorebooks yet.')).toBeInTheDocument();
    await user.upload(screen.getByTestId('lorebook-file'), new File(['{}'], 'world.json', { type: 'application/json' }));
    await user.click(screen.getByTestId('lorebook-submit'));
    const detail = await screen.findByTestId('lorebook-detail');
    const entry = within(detail).getByTestId('lorebook-entry');
    expect(entry).toHaveTextContent('The capital');
    expect(entry).toHaveTextContent('Keys: Eldoria, capital');
    expect(within(entry).getByTestId('lorebook-entry-content').textContent).toBe('<i>Eldoria</i> is the capital.');
    expect(container.querySelector('.lore-entry i')).toBeNull();
    expect(await screen.findByTestId('lorebook')).toHaveTextContent('1 entry · SillyTavern World Info');

    await user.click(within(detail).getByTestId('lorebook-export-v3'));
    await waitFor(() => expect(downloads).toHaveLength(1));
    await user.click(within(detail).getByTestId('lorebook-export-worldinfo'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['Eldoria-lorebook_v3.json', 'Eldoria-worldinfo.json']));
    expect(server.requests.filter((r) => r.path.endsWith('/export')).map((r) => r.query.get('format'))).toEqual(['lorebook_v3', 'worldinfo']);
  });

  it('refuses a non-JSON file before sending and shows the server’s 413', async () => {
    const user = userEvent.setup({ applyAccept: false });
    const { server } = renderLibrary('/library?tab=lorebooks', {
      'GET /lorebooks': () => json(200, { content: [], page: PAGE(0) }),
      'POST /lorebooks/import': () => envelope(413, 'PAYLOAD_TOO_LARGE', 'A .json lorebook can be at most 2 MB.'),
    });
    await user.upload(await screen.findByTestId('lorebook-file'), new File(['x'], 'world.txt'));
    await user.click(screen.getByTestId('lorebook-submit'));
    expect(await screen.findByTestId('field-error-file')).toHaveTextContent('Only .json lorebooks');
    expect(server.requests.some((r) => r.method === 'POST')).toBe(false);
    await user.upload(screen.getByTestId('lorebook-file'), new File(['{}'], 'world.json'));
    await user.click(screen.getByTestId('lorebook-submit'));
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('A .json lorebook can be at most 2 MB.');
  });
});

describe('<LibraryPage> conversations', () => {
  it('imports a SillyTavern chat into a what-if and opens the new conversation', async () => {
    const user = userEvent.setup();
    const scenario = '33333333-3333-4333-8333-333333333333';
    const { server } = renderLibrary('/library?tab=conversations', {
      'POST /conversations/import': () => json(201, { id: 'new-conv' }),
    });
    await user.upload(await screen.findByTestId('conversation-import-file'), new File(['{}\n'], 'chat.jsonl'));
    await user.click(screen.getByTestId('conversation-import-submit'));
    expect(await screen.findByTestId('field-error-scenario_id')).toHaveTextContent('needs the what-if');
    expect(server.requests).toHaveLength(0);

    await user.type(screen.getByTestId('conversation-import-scenario'), scenario);
    await user.click(screen.getByTestId('conversation-import-submit'));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/conversations/new-conv'));
    const form = server.requests[0].form;
    expect(form?.get('scenario_id')).toBe(scenario);
    expect((form?.get('file') as File).name).toBe('chat.jsonl');
    expect(form?.has('visibility')).toBe(false);
  });

  it('names the bad line of a refused file', async () => {
    const user = userEvent.setup();
    renderLibrary('/library?tab=conversations', {
      'POST /conversations/import': () =>
        envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { file: ['line 17: not a JSON object'] }),
    });
    await user.upload(await screen.findByTestId('conversation-import-file'), new File(['{}'], 'export.json'));
    await user.click(screen.getByTestId('conversation-import-submit'));
    expect(await screen.findByTestId('field-error-file')).toHaveTextContent('line 17: not a JSON object');
    expect(screen.getByTestId('where')).toHaveTextContent('/library');
  });
});

describe('<LibraryPage> session', () => {
  it('needs a session', async () => {
    renderRoutes([{ path: '/library', element: <LibraryPage /> }], { at: '/library', signedIn: false, routes: {} });
    expect(await screen.findByRole('heading', { name: 'Log in needed' })).toBeInTheDocument();
  });
});
