import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../lib/api';
import { makeApi } from '../lib/endpoints';
import { SessionProvider } from '../lib/session';
import { TokenStore } from '../lib/tokens';
import type { Timeline } from '../lib/types';
import { json, renderRoutes } from '../test/harness';
import { ScenarioDetailPage } from './ScenarioPages';

const ROOT = '10000000-0000-4000-8000-000000000001';
const MIDDLE = '10000000-0000-4000-8000-000000000002';
const LEAF = '10000000-0000-4000-8000-000000000003';
const CREATOR = { id: '20000000-0000-4000-8000-000000000001', username: 'austen_fan', avatar_url: null };

const scenario = {
  id: LEAF,
  base_story: 'pride-and-prejudice',
  novel_id: null,
  parent_scenario_id: MIDDLE,
  parent: { id: MIDDLE, is_deleted: true },
  scenario_type: 'EVENT_ALTERATION',
  parameters: { event: 'The Netherfield ball', change: 'is cancelled' },
  quality_score: 0.5,
  creator_id: CREATOR.id,
  creator: CREATOR,
  fork_count: 0,
  conversation_count: 0,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

const timeline: Timeline = {
  scenario_id: LEAF,
  total_steps: 3,
  steps: [
    {
      scenario_id: ROOT,
      scenario_type: 'CHARACTER_CHANGE',
      summary: 'Elizabeth Bennet is shy instead of witty.',
      parameters: {},
      creator: { id: CREATOR.id, username: 'austen_fan' },
      is_deleted: false,
      position: 1,
    },
    {
      scenario_id: MIDDLE,
      scenario_type: 'SETTING_MODIFICATION',
      summary: 'The story moves to <b>Bath</b>.',
      parameters: {},
      creator: { id: 'x', username: 'bath_lover' },
      is_deleted: true,
      position: 2,
    },
    {
      scenario_id: LEAF,
      scenario_type: 'EVENT_ALTERATION',
      summary: 'The Netherfield ball is cancelled.',
      parameters: {},
      creator: { id: CREATOR.id, username: 'austen_fan' },
      is_deleted: false,
      position: 3,
    },
  ],
  condensed_steps: 1,
  counted_steps: 0,
  brief: 'What changed in this telling, oldest first:\n1. Elizabeth is shy.\n2. The story moves to <b>Bath</b>.\n3. The Netherfield ball is cancelled.',
  brief_tokens: 31,
};

function renderDetail() {
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    const path = new URL(String(input)).pathname.replace('/api/v1', '');
    if (path === `/scenarios/${LEAF}`) return json(scenario);
    if (path === `/scenarios/${LEAF}/timeline`) return json(timeline);
    if (path === `/scenarios/${LEAF}/ancestors`) return json({ scenario_id: LEAF, path: [] });
    if (path === `/scenarios/${LEAF}/fork-tree`) return json({ id: LEAF, is_deleted: false, children: [], depth: 0, total_descendants: 0 });
    if (path === `/scenarios/${LEAF}/forks`) return json({ forks: [], page: { number: 0, size: 10, total_elements: 0, total_pages: 0 } });
    if (path === '/conversations') return json({ content: [], page: { number: 0, size: 10, total_elements: 0, total_pages: 0 } });
    return json({ status: 404, code: 'NOT_FOUND', message: 'Not found' }, 404);
  }) as unknown as typeof globalThis.fetch;
  const api = makeApi(new ApiClient({ config: { coreUrl: 'http://core.test', aiUrl: 'http://ai.test' }, tokens: new TokenStore(localStorage), fetch }));
  render(
    <MemoryRouter initialEntries={[`/scenarios/${LEAF}`]}>
      <SessionProvider api={api}>
        <Routes>
          <Route path="/scenarios/:id" element={<ScenarioDetailPage />} />
        </Routes>
      </SessionProvider>
    </MemoryRouter>,
  );
}

describe('<ScenarioDetailPage> timeline', () => {
  it('lists every change from the novel in order, marking the deleted ones', async () => {
    renderDetail();
    const section = await screen.findByTestId('timeline');
    expect(within(section).getByRole('heading', { name: 'Timeline' })).toBeInTheDocument();
    const steps = await within(section).findAllByTestId('timeline-step');
    expect(steps).toHaveLength(3);
    expect(steps.map((li) => li.querySelector('.timeline-position')?.textContent)).toEqual(['1.', '2.', '3.']);
    expect(steps[0]).toHaveTextContent('Elizabeth Bennet is shy instead of witty.');
    expect(steps[0]).toHaveTextContent('Character change');
    expect(within(steps[0]).getByRole('link', { name: '@austen_fan' })).toBeInTheDocument();
    expect(within(steps[0]).getByRole('link', { name: 'Elizabeth Bennet is shy instead of witty.' })).toHaveAttribute('href', `/scenarios/${ROOT}`);
    // A deleted ancestor stays, marked, without a link; its text is plain text.
    expect(within(steps[1]).getByTestId('timeline-deleted')).toHaveTextContent('deleted');
    expect(within(steps[1]).queryByRole('link', { name: /Bath/ })).toBeNull();
    expect(steps[1]).toHaveTextContent('The story moves to <b>Bath</b>.');
    expect(steps[1].querySelector('b')).toBeNull();
    expect(within(steps[1]).getByRole('link', { name: '@bath_lover' })).toBeInTheDocument();
    expect(within(steps[0]).queryByTestId('timeline-deleted')).toBeNull();
    // This scenario is the last step.
    expect(steps[2]).toHaveAttribute('aria-current', 'step');
    expect(within(section).getByTestId('timeline-count')).toHaveTextContent('3 changes from the novel to this what-if');
  });

  it('shows what the model is told: the brief as plain, pre-wrapped text with its size', async () => {
    renderDetail();
    const section = await screen.findByTestId('timeline');
    expect(await within(section).findByRole('heading', { name: 'What the model is told' })).toBeInTheDocument();
    const brief = within(section).getByTestId('brief');
    expect(brief.tagName).toBe('PRE');
    expect(brief.textContent).toBe(timeline.brief);
    expect(brief.querySelector('b')).toBeNull();
    expect(within(section).getByTestId('brief-tokens')).toHaveTextContent('about 31 tokens · 1 older change condensed to one line');
  });
});

describe('<ScenarioDetailPage> starting a conversation', () => {
  function renderSignedIn() {
    const ok = (body: unknown) => () => json(200, body);
    const emptyPage = { content: [], page: { number: 0, size: 10, total_elements: 0, total_pages: 0 } };
    return renderRoutes([{ path: '/scenarios/:id', element: <ScenarioDetailPage /> }], {
      at: `/scenarios/${LEAF}`,
      routes: {
        [`GET /scenarios/${LEAF}`]: ok(scenario),
        [`GET /scenarios/${LEAF}/timeline`]: ok(timeline),
        [`GET /scenarios/${LEAF}/ancestors`]: ok({ scenario_id: LEAF, path: [] }),
        [`GET /scenarios/${LEAF}/fork-tree`]: ok({ id: LEAF, is_deleted: false, children: [], depth: 0, total_descendants: 0 }),
        [`GET /scenarios/${LEAF}/forks`]: ok({ forks: [], page: emptyPage.page }),
        'GET /conversations': ok(emptyPage),
        'POST /conversations': () => json(201, { id: 'c-new' }),
      },
    });
  }

  it("leaves the visibility to the reader's default unless one is chosen", async () => {
    const user = userEvent.setup();
    const first = renderSignedIn();
    const select = await screen.findByTestId('conv-visibility');
    expect(select).toHaveValue('');
    await user.click(screen.getByTestId('start-conversation'));
    await waitFor(() => expect(first.server.requests.some((r) => r.method === 'POST')).toBe(true));
    expect(first.server.requests.find((r) => r.method === 'POST')?.body).toEqual({ scenario_id: LEAF });
    first.unmount();

    const second = renderSignedIn();
    await user.selectOptions(await screen.findByTestId('conv-visibility'), 'private');
    expect(screen.getByText('Only you can see it.')).toBeInTheDocument();
    await user.click(screen.getByTestId('start-conversation'));
    await waitFor(() => expect(second.server.requests.some((r) => r.method === 'POST')).toBe(true));
    expect(second.server.requests.find((r) => r.method === 'POST')?.body).toEqual({ scenario_id: LEAF, visibility: 'private' });
    expect(screen.getByTestId('where')).toHaveTextContent('/conversations/c-new');
  });
});
