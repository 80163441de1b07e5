import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { snippetParts } from '../components/Snippet';
import { envelope, json, renderRoutes } from '../test/harness';
import { MessageSearchPage } from './MessageSearchPage';

const CONV = '22222222-2222-4222-8222-222222222222';

const hit = {
  conversation: { id: CONV, title: 'Tea at Netherfield' },
  message: { id: 'm-7', role: 'user', content: 'Shall we dance at the ball?', status: 'completed', created_at: '2026-01-02T00:00:00Z' },
  position: 6,
  snippet: 'Shall we <b>dance</b> at the ball?',
};

describe('<MessageSearchPage>', () => {
  it("searches the reader's own messages and links each hit to its conversation, at the message", async () => {
    const user = userEvent.setup();
    const { server } = renderRoutes([{ path: '/search-messages', element: <MessageSearchPage /> }], {
      at: '/search-messages',
      routes: {
        'GET /users/me/messages/search': () => json(200, { content: [hit], page: { number: 0, size: 20, total_elements: 1, total_pages: 1 } }),
      },
    });
    await user.type(screen.getByLabelText('Words to find in your conversations'), 'dance');
    await user.click(screen.getByTestId('my-message-search'));
    const hits = await screen.findAllByTestId('my-message-hit');
    expect(hits).toHaveLength(1);
    const link = within(hits[0]).getByTestId('hit-link');
    expect(link).toHaveTextContent('Tea at Netherfield');
    expect(link).toHaveAttribute('href', `/conversations/${CONV}?message=m-7`);
    expect(within(hits[0]).getByText('dance').tagName).toBe('MARK');
    expect(hits[0]).toHaveTextContent('You · message 7');
    expect(screen.getByTestId('where')).toHaveTextContent('/search-messages?q=dance');
    const sent = server.requests.find((r) => r.path === '/users/me/messages/search')!;
    expect(sent.query.get('q')).toBe('dance');
    expect(sent.auth).toMatch(/^Bearer /);
  });

  it('shows a refused query under the field', async () => {
    renderRoutes([{ path: '/search-messages', element: <MessageSearchPage /> }], {
      at: `/search-messages?q=${'x'.repeat(5)}`,
      routes: { 'GET /users/me/messages/search': () => envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { q: ['Ensure this field has no more than 200 characters.'] }) },
    });
    expect(await screen.findByTestId('field-error-q')).toHaveTextContent('no more than 200 characters');
    expect(screen.getByTestId('my-message-query')).toHaveAttribute('aria-invalid', 'true');
  });

  it('says when nothing matches', async () => {
    renderRoutes([{ path: '/search-messages', element: <MessageSearchPage /> }], {
      at: '/search-messages?q=zebra',
      routes: { 'GET /users/me/messages/search': () => json(200, { content: [], page: { number: 0, size: 20, total_elements: 0, total_pages: 0 } }) },
    });
    await waitFor(() => expect(screen.getByText('No message matches “zebra”.')).toBeInTheDocument());
  });
});

describe('snippetParts', () => {
  it('marks the matched words and drops every other tag', () => {
    expect(snippetParts('a <mark>b</mark> c <b>d</b><img src=x onerror=alert(1)>')).toEqual([
      { text: 'a ', marked: false },
      { text: 'b', marked: true },
      { text: ' c ', marked: false },
      { text: 'd', marked: true },
    ]);
    expect(snippetParts('plain text')).toEqual([{ text: 'plain text', marked: false }]);
  });
});
