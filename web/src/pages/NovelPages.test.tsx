import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Novel } from '../lib/types';
import { NOVEL_ID, novelFixture } from '../test/fixtures';
import { captureDownloads, envelope, file, json, renderRoutes, USER_ID, type Handler } from '../test/harness';
import { NovelDetailPage } from './NovelPages';

const OTHER = '55555555-5555-4555-8555-555555555555';

const novel = (over: Partial<Novel> = {}) => novelFixture({ total_characters: 2, ...over });

const CHARACTERS = [
  { id: 'c-eliza', vectordb_id: 'c-eliza', novel_id: NOVEL_ID, name: 'Elizabeth Bennet', aliases: [], description: '', personality_traits: [], role: 'protagonist', first_chapter: 1, mention_count: 500 },
  { id: 'c-darcy', vectordb_id: 'c-darcy', novel_id: NOVEL_ID, name: 'Mr. Darcy', aliases: [], description: '', personality_traits: [], role: 'main', first_chapter: 3, mention_count: 300 },
];

function renderNovel(body: Novel, extra: Record<string, Handler> = {}) {
  const state = { novel: body };
  const view = renderRoutes([{ path: '/novels/:idOrSlug', element: <NovelDetailPage /> }], {
    at: `/novels/${body.slug}`,
    routes: {
      [`GET /novels/${body.slug}`]: () => json(200, state.novel),
      'GET /scenarios': () => json(200, { content: [], page: { number: 0, size: 10, total_elements: 0, total_pages: 0 } }),
      [`GET /ai/novels/${NOVEL_ID}/characters`]: () => json(200, CHARACTERS),
      [`GET /novels/${NOVEL_ID}/lorebook`]: ({ query }) => file('{}', 'application/json', `pride-and-prejudice-${query.get('format')}.json`),
      [`GET /novels/${NOVEL_ID}/characters/c-darcy/card`]: ({ query }) =>
        file('card', query.get('format') === 'png' ? 'image/png' : 'application/json', `pride-and-prejudice-Mr-Darcy.${query.get('format')}`),
      ...extra,
    },
  });
  return { ...view, state };
}

describe('<NovelDetailPage> exports', () => {
  it('downloads the novel’s lorebook in both formats and a character’s card as JSON and PNG', async () => {
    const user = userEvent.setup();
    const downloads = captureDownloads(onTestFinished);
    const { server } = renderNovel(novel());
    const lore = await screen.findByTestId('novel-lorebook-export');
    await user.click(within(lore).getByTestId('novel-lorebook-v3'));
    await waitFor(() => expect(downloads).toHaveLength(1));
    await user.click(within(lore).getByTestId('novel-lorebook-worldinfo'));
    await waitFor(() => expect(downloads).toHaveLength(2));

    const darcy = (await screen.findAllByTestId('cast-member'))[1];
    expect(darcy).toHaveTextContent('Mr. Darcy');
    await user.click(within(darcy).getByTestId('cast-card-json'));
    await waitFor(() => expect(downloads).toHaveLength(3));
    await user.click(within(darcy).getByTestId('cast-card-png'));
    await waitFor(() => expect(downloads).toHaveLength(4));

    expect(downloads.map((d) => d.name)).toEqual([
      'pride-and-prejudice-lorebook_v3.json',
      'pride-and-prejudice-worldinfo.json',
      'pride-and-prejudice-Mr-Darcy.json',
      'pride-and-prejudice-Mr-Darcy.png',
    ]);
    const sent = server.requests.filter((r) => r.path.startsWith(`/novels/${NOVEL_ID}/`));
    expect(sent.map((r) => `${r.path}?${r.query}`)).toEqual([
      `/novels/${NOVEL_ID}/lorebook?format=lorebook_v3`,
      `/novels/${NOVEL_ID}/lorebook?format=worldinfo`,
      `/novels/${NOVEL_ID}/characters/c-darcy/card?format=json`,
      `/novels/${NOVEL_ID}/characters/c-darcy/card?format=png`,
    ]);
    // A catalogue novel: no owner controls.
    expect(screen.queryByTestId('novel-owner')).not.toBeInTheDocument();
  });

  it('offers no lorebook before the novel is ingested and shows a failed export', async () => {
    const user = userEvent.setup();
    captureDownloads(onTestFinished);
    renderNovel(novel({ ingestion_status: 'processing' }));
    await screen.findByRole('heading', { name: /Pride and Prejudice/ });
    expect(screen.queryByTestId('novel-lorebook-export')).not.toBeInTheDocument();

    renderNovel(novel({ slug: 'other' }), {
      [`GET /novels/${NOVEL_ID}/lorebook`]: () => envelope(503, 'AI_UNAVAILABLE', 'The novel’s lore cannot be read right now; retry shortly.'),
    });
    const lore = await screen.findByTestId('novel-lorebook-export');
    await user.click(within(lore).getByTestId('novel-lorebook-v3'));
    expect(await within(lore).findByTestId('error-banner')).toHaveTextContent('cannot be read right now');
  });
});

describe('<NovelDetailPage> owner', () => {
  it('lets the owner change who sees their story and delete it', async () => {
    const user = userEvent.setup();
    const { server, state } = renderNovel(novel({ owner_id: USER_ID, visibility: 'private', source: 'upload' }), {
      [`PATCH /novels/${NOVEL_ID}`]: ({ body }) => {
        state.novel = { ...state.novel, ...(body as Partial<Novel>) };
        return json(200, state.novel);
      },
      [`DELETE /novels/${NOVEL_ID}`]: () => new Response(null, { status: 204 }),
    });
    const controls = await screen.findByTestId('novel-owner');
    expect(screen.getByTestId('visibility-badge')).toHaveTextContent('Private');
    await user.selectOptions(within(controls).getByTestId('novel-visibility'), 'unlisted');
    await waitFor(() => expect(screen.getByTestId('visibility-badge')).toHaveTextContent('Unlisted'));
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ visibility: 'unlisted' });

    await user.click(within(controls).getByTestId('novel-delete'));
    await user.click(within(controls).getByTestId('novel-delete-confirm'));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/library'));
    expect(server.requests.some((r) => r.method === 'DELETE' && r.path === `/novels/${NOVEL_ID}`)).toBe(true);
  });

  it('shows no owner controls to another reader', async () => {
    renderNovel(novel({ owner_id: OTHER, visibility: 'unlisted', source: 'upload' }));
    await screen.findByTestId('novel-lorebook-export');
    expect(screen.queryByTestId('novel-owner')).not.toBeInTheDocument();
  });
});
