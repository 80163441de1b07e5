import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../lib/api';
import { makeApi } from '../lib/endpoints';
import { SessionProvider } from '../lib/session';
import { TokenStore } from '../lib/tokens';
import type { Knower, MemoryEntry } from '../lib/types';
import { MemoryPanel, stanceWord } from './MemoryPanel';

const CONV = '22222222-2222-4222-8222-222222222222';
const BASE = `/conversations/${CONV}`;

const CHARACTERS: Knower[] = [
  { key: 'c-eliza', name: 'Elizabeth Bennet' },
  { key: 'c-darcy', name: 'Mr. Darcy' },
];

function entry(id: string, fields: Partial<MemoryEntry>): MemoryEntry {
  return {
    id,
    kind: 'fact',
    subject: 'world',
    target: '',
    text: id,
    value: null,
    trend: null,
    history: [],
    source: 'model',
    source_message_id: null,
    pinned: false,
    known_by: null,
    layer: 0,
    covers_from: null,
    covers_to: null,
    covered: false,
    inherited: false,
    position: 4,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

function entries(): MemoryEntry[] {
  return [
    entry('e-pin', { kind: 'pin', text: 'The ball is on Friday.', pinned: true, source: 'reader', position: 6 }),
    entry('e-secret', { text: 'Wickham owes money.', known_by: ['c-darcy'], position: 5 }),
    entry('e-knows', {
      kind: 'character_knowledge',
      subject: 'Elizabeth Bennet',
      text: 'Elizabeth knows Jane is ill.',
      known_by: ['c-eliza'],
      source: 'rule',
      inherited: true,
      position: 0,
    }),
    entry('e-wickham', { subject: 'Wickham', text: 'Wickham is charming.', known_by: ['c-eliza'], position: 3 }),
    entry('e-sum-1', { kind: 'summary', text: 'They met at the assembly.', layer: 1, covered: true, covers_from: 0, covers_to: 9 }),
    entry('e-sum-2', { kind: 'summary', text: 'A season of misunderstandings.', layer: 2, covers_from: 0, covers_to: 29 }),
    entry('e-rel-warm', {
      kind: 'relationship',
      subject: 'Mr. Darcy',
      target: 'Elizabeth Bennet',
      text: 'He admires her fine eyes.',
      value: 45,
      trend: 10,
      known_by: ['c-darcy'],
      history: [
        { value: 35, change: 35, text: 'First impressions', source: 'model', source_message_id: null, at: '2026-01-01T00:00:00Z' },
        { value: 45, change: 10, text: 'Her fine eyes', source: 'model', source_message_id: null, at: '2026-01-02T00:00:00Z' },
      ],
    }),
    entry('e-rel-cold', {
      kind: 'relationship',
      subject: 'Elizabeth Bennet',
      target: 'Mr. Darcy',
      text: 'She finds him proud.',
      value: -30,
      trend: -15,
      history: [{ value: -30, change: -15, text: 'The slight at the ball', source: 'rule', source_message_id: null, at: '2026-01-02T00:00:00Z' }],
    }),
  ];
}

interface Request {
  method: string;
  path: string;
  query: string;
  body: unknown;
}

function envelope(status: number, message: string, details?: Record<string, string[]>) {
  return { status, error: 'Error', message, code: status === 403 ? 'FORBIDDEN' : 'VALIDATION_ERROR', details, trace_id: 't', path: '', timestamp: '' };
}

function backend(options: { status?: number; content?: MemoryEntry[]; canon?: number | null } = {}) {
  const state = { entries: options.content ?? entries(), canon: options.canon ?? null, created: 0 };
  const requests: Request[] = [];
  const json = (status: number, body: unknown) =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const path = url.pathname.replace('/api/v1', '');
    requests.push({ method, path, query: url.search, body });
    if (options.status) return json(options.status, envelope(options.status, 'You may not read this memory.'));
    if (method === 'GET' && path === `${BASE}/memory`) {
      return json(200, {
        content: state.entries,
        page: { number: 0, size: 100, total_elements: state.entries.length, total_pages: 1 },
        canon_chapter: state.canon,
        characters: CHARACTERS,
      });
    }
    if (method === 'POST' && path === `${BASE}/memory`) {
      const b = body as Record<string, unknown>;
      if (b.kind === 'relationship' && (!b.subject || !b.target)) {
        const field = b.subject ? 'target' : 'subject';
        return json(400, envelope(400, 'A relationship needs a subject and a target.', { [field]: ['A relationship needs a subject and a target.'] }));
      }
      state.created += 1;
      const created = entry(`e-new-${state.created}`, {
        kind: (b.kind as MemoryEntry['kind']) ?? 'pin',
        subject: (b.subject as string) ?? 'world',
        target: (b.target as string) ?? '',
        text: b.text as string,
        pinned: (b.pinned as boolean) ?? true,
        known_by: (b.known_by as string[] | null) ?? null,
        source: 'reader',
        position: 10,
      });
      state.entries = [created, ...state.entries];
      return json(201, created);
    }
    const one = new RegExp(`^${BASE}/memory/([^/]+)$`).exec(path);
    if (one) {
      const found = state.entries.find((e) => e.id === one[1]);
      if (!found) return json(404, envelope(404, 'Not found'));
      if (method === 'DELETE') {
        state.entries = state.entries.filter((e) => e.id !== one[1]);
        return new Response(null, { status: 204 });
      }
      if (method === 'PATCH') {
        const b = body as Partial<MemoryEntry> & { everyone?: boolean };
        const updated: MemoryEntry = {
          ...found,
          ...(b.text !== undefined ? { text: b.text } : {}),
          ...(b.pinned !== undefined ? { pinned: b.pinned } : {}),
          ...(b.known_by !== undefined ? { known_by: b.known_by } : {}),
          ...(b.everyone ? { known_by: null } : {}),
          ...(b.value !== undefined && b.value !== null ? { value: b.value, trend: b.value - (found.value ?? 0) } : {}),
        };
        state.entries = state.entries.map((e) => (e.id === updated.id ? updated : e));
        return json(200, updated);
      }
    }
    if (method === 'PUT' && path === `${BASE}/canon`) {
      state.canon = (body as { canon_chapter: number | null }).canon_chapter;
      return json(200, { conversation_id: CONV, canon_chapter: state.canon });
    }
    return json(404, envelope(404, 'Not found'));
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, requests, state };
}

function renderPanel(options: Parameters<typeof backend>[0] & { canEdit?: boolean } = {}) {
  const server = backend(options);
  const tokens = new TokenStore(localStorage);
  tokens.set({ accessToken: 'a.b.c', refreshToken: 'r' });
  const api = makeApi(new ApiClient({ config: { coreUrl: 'http://core.test', aiUrl: 'http://ai.test' }, tokens, fetch: server.fetch }));
  const ui = (refreshKey: number) => (
    <MemoryRouter>
      <SessionProvider api={api}>
        <MemoryPanel conversationId={CONV} canEdit={options.canEdit ?? true} refreshKey={refreshKey} />
      </SessionProvider>
    </MemoryRouter>
  );
  const view = render(ui(0));
  return { server, rerender: (key: number) => view.rerender(ui(key)) };
}

/** The entry showing `text` inside `scope`. */
function entryIn(scope: HTMLElement, text: string): HTMLElement {
  const item = within(scope)
    .getAllByTestId('memory-entry')
    .find((li) => within(li).queryByTestId('memory-text')?.textContent === text);
  if (!item) throw new Error(`no entry "${text}"`);
  return item;
}

const texts = (scope: HTMLElement) => within(scope).queryAllByTestId('memory-text').map((p) => p.textContent);
const world = () => screen.getByTestId('memory-world');
const character = (name: string) => screen.getAllByTestId('memory-character').find((s) => s.dataset.name === name)!;
const relationships = () => screen.getByTestId('memory-relationships');

describe('stanceWord', () => {
  it('names a stance by its band', () => {
    expect([100, 60, 59, 20, 19, 0, -19, -20, -59, -60, -100].map(stanceWord)).toEqual([
      'devoted',
      'devoted',
      'warm',
      'warm',
      'guarded',
      'guarded',
      'guarded',
      'cold',
      'cold',
      'hostile',
      'hostile',
    ]);
  });
});

describe('<MemoryPanel>', () => {
  it('loads the first page and groups the world, each character and the relationships', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    expect(server.requests[0]).toMatchObject({ method: 'GET', path: `${BASE}/memory`, query: '?page=0&size=100' });

    // World: pins, facts and summaries; not what is about a character; folded summaries hidden.
    expect(texts(world())).toEqual(['The ball is on Friday.', 'Wickham owes money.', 'A season of misunderstandings.']);
    expect(within(entryIn(world(), 'A season of misunderstandings.')).getByText('Earlier (layer 2)')).toBeInTheDocument();
    await user.click(screen.getByLabelText('Show folded summaries (1)'));
    expect(texts(world())).toContain('They met at the assembly.');
    expect(within(entryIn(world(), 'They met at the assembly.')).getByText('Earlier (layer 1)')).toBeInTheDocument();

    // What each knows: known_by null or naming them, or about them.
    const eliza = character('Elizabeth Bennet');
    expect(within(eliza).getByRole('heading', { name: 'Elizabeth Bennet' })).toBeInTheDocument();
    expect(texts(eliza)).toEqual(
      expect.arrayContaining(['Elizabeth knows Jane is ill.', 'Wickham is charming.', 'The ball is on Friday.', 'A season of misunderstandings.']),
    );
    expect(texts(eliza)).not.toContain('Wickham owes money.');
    expect(within(within(eliza).getByTestId('memory-everyone')).getByText('Also what everyone knows (2)')).toBeInTheDocument();
    const darcy = character('Mr. Darcy');
    expect(texts(darcy)).toContain('Wickham owes money.');
    expect(texts(darcy)).not.toContain('Elizabeth knows Jane is ill.');
    expect(texts(darcy)).not.toContain('Wickham is charming.');
    // A subject that is not in the scene gets its own group.
    expect(texts(character('Wickham'))).toContain('Wickham is charming.');
    expect(within(entryIn(world(), 'Wickham owes money.')).getByTestId('memory-known-by')).toHaveTextContent('Known to Mr. Darcy');
    expect(within(entryIn(world(), 'The ball is on Friday.')).getByTestId('memory-known-by')).toHaveTextContent('Known to everyone');

    // Source, inherited and the pin marker.
    const knows = entryIn(eliza, 'Elizabeth knows Jane is ill.');
    expect(within(knows).getByTestId('memory-source')).toHaveTextContent('rule');
    expect(within(knows).getByTestId('memory-inherited')).toHaveTextContent('inherited');
    const pin = entryIn(world(), 'The ball is on Friday.');
    expect(within(pin).getByTestId('memory-source')).toHaveTextContent('reader');
    expect(within(pin).getByTestId('memory-pin')).toBeInTheDocument();
    expect(within(entryIn(world(), 'Wickham owes money.')).queryByTestId('memory-pin')).toBeNull();
    expect(within(entryIn(world(), 'Wickham owes money.')).queryByTestId('memory-inherited')).toBeNull();

    // Relationships: the pair, the stance in a word, the last change and the history.
    expect(texts(relationships())).toEqual(['He admires her fine eyes.', 'She finds him proud.']);
    const warm = entryIn(relationships(), 'He admires her fine eyes.');
    expect(within(warm).getByTestId('memory-pair')).toHaveTextContent('Mr. Darcy → Elizabeth Bennet');
    expect(within(warm).getByTestId('memory-stance')).toHaveTextContent('+45 warm');
    expect(within(warm).getByTestId('memory-trend')).toHaveTextContent('▲ +10');
    const cold = entryIn(relationships(), 'She finds him proud.');
    expect(within(cold).getByTestId('memory-stance')).toHaveTextContent('-30 cold');
    expect(within(cold).getByTestId('memory-trend')).toHaveTextContent('▼ -15');
    expect(within(warm).queryByTestId('memory-history')).toBeNull();
    const toggle = within(warm).getByRole('button', { name: 'History (2)' });
    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    const items = within(warm).getAllByTestId('memory-history-item');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('+35 → +35: First impressions');
    expect(items[1]).toHaveTextContent('+10 → +45: Her fine eyes');
    // Relationships are not listed as what anyone knows.
    expect(texts(darcy)).not.toContain('He admires her fine eyes.');
  });

  it('pins and unpins with PATCH {pinned}', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    await user.click(within(entryIn(world(), 'Wickham owes money.')).getByRole('button', { name: /^Pin/ }));
    await waitFor(() => expect(within(entryIn(world(), 'Wickham owes money.')).getByTestId('memory-pin')).toBeInTheDocument());
    expect(server.requests.at(-1)).toEqual({ method: 'PATCH', path: `${BASE}/memory/e-secret`, query: '', body: { pinned: true } });

    await user.click(within(entryIn(world(), 'The ball is on Friday.')).getByRole('button', { name: /^Unpin/ }));
    await waitFor(() => expect(within(entryIn(world(), 'The ball is on Friday.')).queryByTestId('memory-pin')).toBeNull());
    expect(server.requests.at(-1)).toEqual({ method: 'PATCH', path: `${BASE}/memory/e-pin`, query: '', body: { pinned: false } });
  });

  it('edits the text with PATCH {text}, and a relationship’s stance with {value}', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    const pin = entryIn(world(), 'The ball is on Friday.');
    await user.click(within(pin).getByRole('button', { name: /^Edit/ }));
    const textarea = within(pin).getByLabelText('Text');
    await user.clear(textarea);
    await user.type(textarea, 'The ball is on Saturday.');
    await user.click(within(pin).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(texts(world())).toContain('The ball is on Saturday.'));
    expect(texts(world())).not.toContain('The ball is on Friday.');
    expect(server.requests.at(-1)).toEqual({ method: 'PATCH', path: `${BASE}/memory/e-pin`, query: '', body: { text: 'The ball is on Saturday.' } });

    const warm = entryIn(relationships(), 'He admires her fine eyes.');
    await user.click(within(warm).getByRole('button', { name: /^Edit/ }));
    const stance = within(warm).getByLabelText(/Stance/);
    await user.clear(stance);
    await user.type(stance, '70');
    await user.click(within(warm).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(within(entryIn(relationships(), 'He admires her fine eyes.')).getByTestId('memory-stance')).toHaveTextContent('+70 devoted'));
    expect(server.requests.at(-1)).toEqual({ method: 'PATCH', path: `${BASE}/memory/e-rel-warm`, query: '', body: { value: 70 } });
  });

  it('changes who knows an entry', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    const secret = entryIn(world(), 'Wickham owes money.');
    await user.click(within(secret).getByRole('button', { name: /^Edit/ }));
    await user.click(within(secret).getByLabelText('Everyone'));
    await user.click(within(secret).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(within(entryIn(world(), 'Wickham owes money.')).getByTestId('memory-known-by')).toHaveTextContent('Known to everyone'));
    expect(server.requests.at(-1)?.body).toEqual({ everyone: true });
  });

  it('deletes an entry after a confirmation', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    const secret = entryIn(world(), 'Wickham owes money.');
    await user.click(within(secret).getByRole('button', { name: /^Delete/ }));
    await user.click(within(secret).getByRole('button', { name: 'Cancel' }));
    expect(server.requests.some((r) => r.method === 'DELETE')).toBe(false);

    await user.click(within(secret).getByRole('button', { name: /^Delete/ }));
    await user.click(within(secret).getByRole('button', { name: 'Yes, delete' }));
    await waitFor(() => expect(screen.queryByText('Wickham owes money.')).toBeNull());
    expect(server.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `${BASE}/memory/e-secret` });
    expect(screen.getByTestId('memory-status')).toHaveTextContent('Entry deleted.');
  });

  it('adds an entry known to the characters checked, or to everyone', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    await user.click(screen.getByRole('button', { name: 'Add an entry' }));
    const form = screen.getByTestId('memory-add-form');
    await user.selectOptions(within(form).getByLabelText('Kind'), 'fact');
    await user.type(within(form).getByLabelText('What to remember'), 'Lydia has run off.');
    await user.click(within(form).getByLabelText('Mr. Darcy'));
    expect(within(form).getByLabelText('Only these characters:')).toBeChecked();
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(texts(character('Mr. Darcy'))).toContain('Lydia has run off.'));
    expect(server.requests.at(-1)).toEqual({
      method: 'POST',
      path: `${BASE}/memory`,
      query: '',
      body: { kind: 'fact', text: 'Lydia has run off.', pinned: true, known_by: ['c-darcy'] },
    });
    expect(texts(character('Elizabeth Bennet'))).not.toContain('Lydia has run off.');
    expect(within(form).getByLabelText('What to remember')).toHaveValue('');

    // Everyone, about a character, not pinned.
    await user.selectOptions(within(form).getByLabelText('Kind'), 'character_knowledge');
    await user.click(within(form).getByLabelText('Everyone'));
    await user.type(within(form).getByLabelText(/About/), 'Elizabeth Bennet');
    await user.type(within(form).getByLabelText('What to remember'), 'She suspects Wickham.');
    await user.click(within(form).getByLabelText(/Pinned/));
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(texts(character('Elizabeth Bennet'))).toContain('She suspects Wickham.'));
    expect(server.requests.at(-1)?.body).toEqual({
      kind: 'character_knowledge',
      subject: 'Elizabeth Bennet',
      text: 'She suspects Wickham.',
      pinned: false,
      known_by: null,
    });
  });

  it('shows a relationship refused for want of a subject next to the field', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    await user.click(screen.getByRole('button', { name: 'Add an entry' }));
    const form = screen.getByTestId('memory-add-form');
    await user.selectOptions(within(form).getByLabelText('Kind'), 'relationship');
    await user.type(within(form).getByLabelText('Toward'), 'Mr. Darcy');
    const stance = within(form).getByLabelText(/Stance/);
    await user.clear(stance);
    await user.type(stance, '-40');
    await user.type(within(form).getByLabelText('What to remember'), 'She resents him.');
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    const error = await within(form).findByTestId('field-error-memory-add-subject');
    expect(error).toHaveTextContent('A relationship needs a subject and a target.');
    expect(within(form).getByLabelText('Who feels')).toHaveAttribute('aria-invalid', 'true');
    expect(server.requests.at(-1)?.body).toEqual({ kind: 'relationship', target: 'Mr. Darcy', value: -40, text: 'She resents him.', pinned: true, known_by: null });
    expect(texts(relationships())).not.toContain('She resents him.');
  });

  it('refuses an empty text and "only these characters" with nobody checked without asking core', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel();
    await screen.findByTestId('memory-world');
    await user.click(screen.getByRole('button', { name: 'Add an entry' }));
    const form = screen.getByTestId('memory-add-form');
    await user.click(within(form).getByLabelText('Only these characters:'));
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    expect(within(form).getByTestId('field-error-memory-add-text')).toBeInTheDocument();
    expect(within(form).getByTestId('field-error-memory-add-known_by')).toHaveTextContent('Choose at least one character, or everyone.');
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('saves and clears the spoiler boundary with PUT {canon_chapter}', async () => {
    const user = userEvent.setup();
    const { server } = renderPanel({ canon: null });
    await screen.findByTestId('memory-world');
    expect(screen.getByTestId('memory-canon-now')).toHaveTextContent('where the scenario sits');
    const input = screen.getByLabelText('Canon up to chapter');
    await user.type(input, '0');
    await user.click(within(screen.getByTestId('memory-canon')).getByRole('button', { name: 'Save' }));
    expect(screen.getByTestId('field-error-canon_chapter')).toBeInTheDocument();
    expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);

    await user.clear(input);
    await user.type(input, '12');
    await user.click(within(screen.getByTestId('memory-canon')).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.getByTestId('memory-canon-now')).toHaveTextContent('chapter 12'));
    expect(server.requests.at(-1)).toEqual({ method: 'PUT', path: `${BASE}/canon`, query: '', body: { canon_chapter: 12 } });
    expect(screen.getByTestId('memory-status')).toHaveTextContent('Spoiler boundary saved: chapter 12.');

    await user.click(screen.getByRole('button', { name: 'Clear' }));
    await waitFor(() => expect(screen.getByTestId('memory-canon-now')).toHaveTextContent('where the scenario sits'));
    expect(server.requests.at(-1)).toEqual({ method: 'PUT', path: `${BASE}/canon`, query: '', body: { canon_chapter: null } });
    expect(input).toHaveValue(null);
  });

  it('says only the owner can see the memory on a 403', async () => {
    renderPanel({ status: 403 });
    expect(await screen.findByTestId('memory-forbidden')).toHaveTextContent("Only the owner can see this conversation's memory.");
    expect(screen.queryByTestId('memory-world')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Refresh' })).toBeNull();
  });

  it('shows other errors with a retry', async () => {
    renderPanel({ status: 500 });
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('You may not read this memory.');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });

  it('reads without controls when it may not edit', async () => {
    renderPanel({ canEdit: false, canon: 7 });
    await screen.findByTestId('memory-world');
    expect(screen.queryByRole('button', { name: /^(Pin|Unpin|Edit|Delete)/ })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Add an entry' })).toBeNull();
    expect(screen.queryByLabelText('Canon up to chapter')).toBeNull();
    expect(screen.getByTestId('memory-canon-now')).toHaveTextContent('chapter 7');
  });

  it('loads again when refreshKey changes and with Refresh', async () => {
    const user = userEvent.setup();
    const { server, rerender } = renderPanel({ content: [] });
    await screen.findByTestId('memory-world');
    expect(screen.getByText('Nothing about the world yet.')).toBeInTheDocument();
    server.state.entries = [entry('e-later', { text: 'Written after the turn.' })];
    rerender(1);
    await waitFor(() => expect(texts(world())).toEqual(['Written after the turn.']));
    server.state.entries = [];
    await user.click(screen.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(texts(world())).toEqual([]));
    expect(server.requests.filter((r) => r.method === 'GET')).toHaveLength(3);
  });
});
