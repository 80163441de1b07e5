/** "What they know": a conversation's memory as its owner sees it. The
 * world's facts, events, pins and layered summaries; what each character
 * knows (`known_by`); relationships with their stance, last change and
 * history; and the spoiler boundary. The owner pins, edits, deletes and
 * adds entries and sets the boundary; staff may read (canEdit false). */

import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../lib/api';
import { formatDateTime, plural } from '../lib/format';
import { useApi, useResource } from '../lib/session';
import type { Knower, MemoryCreateKind, MemoryEntry, MemoryEntryCreate, MemoryEntryUpdate, MemoryPage, PageInfo } from '../lib/types';
import { ErrorBanner, FieldError, Loading, fieldErrorId } from './common';

export const MEMORY_PAGE_SIZE = 100;
export const MEMORY_TEXT_MAX = 500;
export const STANCE_MIN = -100;
export const STANCE_MAX = 100;
export const CANON_MAX = 100_000;
export const FORBIDDEN_MESSAGE = "Only the owner can see this conversation's memory.";
const WORLD = 'world';

const CREATE_KINDS: { value: MemoryCreateKind; label: string }[] = [
  { value: 'pin', label: 'Pin (always remembered)' },
  { value: 'fact', label: 'Fact' },
  { value: 'event', label: 'Event' },
  { value: 'character_knowledge', label: 'What a character knows' },
  { value: 'relationship', label: 'Relationship' },
];

/** A stance in one word: -100 (hostile) .. 100 (devoted). */
export function stanceWord(value: number): string {
  if (value >= 60) return 'devoted';
  if (value >= 20) return 'warm';
  if (value > -20) return 'guarded';
  if (value > -60) return 'cold';
  return 'hostile';
}

/** "+5", "-3", "0". */
function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function norm(text: string): string {
  return text.trim().toLowerCase().split(/\s+/).join(' ');
}

function isWorld(subject: string): boolean {
  const s = norm(subject);
  return s === '' || s === WORLD;
}

/** Someone the panel groups entries under: a character of the scene, or a
 * subject the memory names that is not one (keyed as core keys a freely
 * named character). */
interface Person {
  key: string;
  name: string;
}

/** The person `subject` names: the same name, else the one person whose
 * name shares its words ("Darcy" is "Mr. Darcy"). */
function personFor(subject: string, people: Person[]): Person | null {
  const s = norm(subject);
  const exact = people.find((p) => norm(p.name) === s);
  if (exact) return exact;
  const words = s.split(' ').filter((w) => w.length > 2);
  if (!words.length) return null;
  const partial = people.filter((p) => {
    const name = norm(p.name).split(' ');
    const long = name.filter((w) => w.length > 2);
    return words.every((w) => name.includes(w)) || (long.length > 0 && long.every((w) => words.includes(w)));
  });
  return partial.length === 1 ? partial[0] : null;
}

function peopleOf(characters: Knower[], entries: MemoryEntry[]): Person[] {
  const people: Person[] = characters.map((c) => ({ key: c.key, name: c.name }));
  for (const e of entries) {
    if (e.kind === 'relationship' || e.kind === 'summary' || isWorld(e.subject)) continue;
    if (!personFor(e.subject, people)) people.push({ key: `name:${norm(e.subject)}`, name: e.subject.trim() });
  }
  return people;
}

/** Pinned first, then newest (as core lists them). */
function byPinThenNewest(a: MemoryEntry, b: MemoryEntry): number {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if (a.position !== b.position) return b.position - a.position;
  return b.created_at.localeCompare(a.created_at);
}

/** Summaries in story order, the broadest first where they start together. */
function byStoryOrder(a: MemoryEntry, b: MemoryEntry): number {
  const from = (a.covers_from ?? 0) - (b.covers_from ?? 0);
  return from !== 0 ? from : b.layer - a.layer;
}

function kindLabel(entry: MemoryEntry): string {
  switch (entry.kind) {
    case 'summary':
      return `Earlier (layer ${entry.layer})`;
    case 'character_knowledge':
      return 'knows';
    default:
      return entry.kind;
  }
}

/** What the panel shows: the first page as loaded, then as edited. */
interface View {
  source: MemoryPage;
  entries: MemoryEntry[];
  page: PageInfo;
  characters: Knower[];
  canon: number | null;
}

/** Everything the panel needs to name knowers and edit entries. */
interface Ctx {
  conversationId: string;
  canEdit: boolean;
  characters: Knower[];
  nameOf: (key: string) => string;
  onChanged: (entry: MemoryEntry) => void;
  onDeleted: (id: string) => void;
}

export function MemoryPanel({
  conversationId,
  canEdit,
  refreshKey = 0,
}: {
  conversationId: string;
  /** The owner: pin, edit, delete, add, and the spoiler boundary. */
  canEdit: boolean;
  /** Bumped to load the memory again (after a turn, say). */
  refreshKey?: number;
}) {
  const api = useApi();
  const first = useResource(
    (signal) => api.memory(conversationId, { page: 0, size: MEMORY_PAGE_SIZE }, signal),
    [api, conversationId, refreshKey],
  );
  const [view, setView] = useState<View | null>(null);
  const [showFolded, setShowFolded] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [status, setStatus] = useState('');

  // A (re)loaded first page replaces what the panel shows (in this render:
  // no frame shows the new page without its entries).
  if (first.data && view?.source !== first.data) {
    const data = first.data;
    setView({ source: data, entries: data.content, page: data.page, characters: data.characters, canon: data.canon_chapter });
    setMoreError(null);
  }
  const entries = useMemo(() => view?.entries ?? [], [view]);
  const page = view?.page ?? null;
  const characters = useMemo(() => view?.characters ?? [], [view]);
  const canon = view?.canon ?? null;
  const update = (change: (v: View) => View) => setView((v) => (v ? change(v) : v));

  const people = useMemo(() => peopleOf(characters, entries), [characters, entries]);
  const nameOf = useMemo(() => {
    const names = new Map(people.map((p) => [p.key, p.name]));
    return (key: string) => names.get(key) ?? (key.startsWith('name:') ? key.slice(5) : 'someone no longer in the scene');
  }, [people]);

  const loadMore = async () => {
    if (!page) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const next = await api.memory(conversationId, { page: page.number + 1, size: MEMORY_PAGE_SIZE });
      update((v) => ({
        ...v,
        entries: [...v.entries, ...next.content.filter((e) => !v.entries.some((x) => x.id === e.id))],
        page: next.page,
      }));
    } catch (err) {
      setMoreError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  const ctx: Ctx = {
    conversationId,
    canEdit,
    characters,
    nameOf,
    onChanged: (entry) => update((v) => ({ ...v, entries: v.entries.map((e) => (e.id === entry.id ? entry : e)) })),
    onDeleted: (id) => {
      update((v) => ({
        ...v,
        entries: v.entries.filter((e) => e.id !== id),
        page: { ...v.page, total_elements: Math.max(v.page.total_elements - 1, 0) },
      }));
      setStatus('Entry deleted.');
    },
  };

  const forbidden = first.error instanceof ApiError && first.error.status === 403;
  const loaded = !!view;

  let body: ReactNode;
  if (forbidden) {
    body = (
      <p className="notice" role="alert" data-testid="memory-forbidden">
        {FORBIDDEN_MESSAGE}
      </p>
    );
  } else if (!loaded) {
    body = first.loading ? <Loading label="Loading what they know…" /> : <ErrorBanner error={first.error} onRetry={first.reload} />;
  } else {
    const sorted = [...entries].sort(byPinThenNewest);
    const relationships = sorted.filter((e) => e.kind === 'relationship');
    const notes = sorted.filter((e) => e.kind !== 'relationship');
    const summaries = notes.filter((e) => e.kind === 'summary').sort(byStoryOrder);
    const folded = summaries.filter((e) => e.covered);
    const shownSummaries = showFolded ? summaries : summaries.filter((e) => !e.covered);
    const world = notes.filter((e) => e.kind !== 'summary' && isWorld(e.subject));
    const homeOf = (e: MemoryEntry) => (e.kind === 'summary' || isWorld(e.subject) ? null : personFor(e.subject, people));
    const more = !!page && page.number + 1 < page.total_pages;

    body = (
      <>
        <ErrorBanner error={first.error} onRetry={first.reload} />
        <p className="small muted" data-testid="memory-count">
          {page && page.total_elements > entries.length
            ? `Showing ${entries.length} of ${plural(page.total_elements, 'entry', 'entries')}.`
            : plural(entries.length, 'entry', 'entries')}
        </p>

        <section className="memory-section" aria-labelledby="memory-world-heading" data-testid="memory-world">
          <h3 id="memory-world-heading" className="h-small">
            World
          </h3>
          {world.length === 0 && shownSummaries.length === 0 && <p className="small muted">Nothing about the world yet.</p>}
          <EntryList entries={world} ctx={ctx} editable />
          {summaries.length > 0 && (
            <>
              <h4 className="memory-subheading">Earlier in the story</h4>
              <EntryList entries={shownSummaries} ctx={ctx} editable />
              {folded.length > 0 && (
                <div className="field checkbox memory-folded-toggle">
                  <input
                    id="memory-show-folded"
                    type="checkbox"
                    checked={showFolded}
                    onChange={(e) => setShowFolded(e.target.checked)}
                    data-testid="memory-show-folded"
                  />
                  <label htmlFor="memory-show-folded">Show folded summaries ({folded.length})</label>
                </div>
              )}
            </>
          )}
        </section>

        <section className="memory-section" aria-labelledby="memory-characters-heading">
          <h3 id="memory-characters-heading" className="h-small">
            Characters
          </h3>
          {people.length === 0 && <p className="small muted">Nobody is in the scene yet.</p>}
          {people.map((person) => {
            const visible = notes.filter((e) => !e.covered);
            const about = visible.filter((e) => homeOf(e)?.key === person.key);
            const rest = visible.filter((e) => homeOf(e)?.key !== person.key);
            const own = rest.filter((e) => e.known_by?.includes(person.key));
            const everyone = rest.filter((e) => e.known_by === null);
            return (
              <CharacterKnowledge key={person.key} person={person} about={about} own={own} everyone={everyone} ctx={ctx} />
            );
          })}
        </section>

        <section className="memory-section" aria-labelledby="memory-relationships-heading" data-testid="memory-relationships">
          <h3 id="memory-relationships-heading" className="h-small">
            Relationships
          </h3>
          {relationships.length === 0 && <p className="small muted">No relationships yet.</p>}
          <EntryList entries={relationships} ctx={ctx} editable />
        </section>

        {more && (
          <button type="button" className="secondary small" onClick={loadMore} disabled={loadingMore} data-testid="memory-load-more">
            {loadingMore ? 'Loading…' : 'Load more entries'}
          </button>
        )}
        <ErrorBanner error={moreError} />

        {canEdit && (
          <AddEntry
            ctx={ctx}
            people={people}
            onAdded={(entry) => {
              update((v) => ({ ...v, entries: [entry, ...v.entries], page: { ...v.page, total_elements: v.page.total_elements + 1 } }));
              setStatus('Entry added.');
            }}
          />
        )}
        <CanonControl
          conversationId={conversationId}
          canEdit={canEdit}
          canon={canon}
          onSaved={(chapter) => {
            update((v) => ({ ...v, canon: chapter }));
            setStatus(chapter === null ? 'Spoiler boundary cleared.' : `Spoiler boundary saved: chapter ${chapter}.`);
          }}
        />
        <p role="status" className="small muted" data-testid="memory-status">
          {status}
        </p>
      </>
    );
  }

  return (
    <section
      className="card small-card memory-panel"
      id="memory-panel"
      aria-labelledby="memory-heading"
      aria-busy={first.loading}
      data-testid="memory-panel"
    >
      <div className="memory-panel-head">
        <h2 id="memory-heading" className="h-small">
          What they know
        </h2>
        {!forbidden && (
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              setStatus('');
              first.reload();
            }}
            disabled={first.loading}
            data-testid="memory-refresh"
          >
            {first.loading && loaded ? 'Refreshing…' : 'Refresh'}
          </button>
        )}
      </div>
      {body}
    </section>
  );
}

function CharacterKnowledge({
  person,
  about,
  own,
  everyone,
  ctx,
}: {
  person: Person;
  /** Entries about them (their own knowledge, facts of them): edited here. */
  about: MemoryEntry[];
  /** Other entries only some know, they among them. */
  own: MemoryEntry[];
  /** Other entries everyone knows. */
  everyone: MemoryEntry[];
  ctx: Ctx;
}) {
  const headingId = useId();
  return (
    <section className="memory-character" aria-labelledby={headingId} data-testid="memory-character" data-name={person.name}>
      <h4 id={headingId} className="memory-subheading">
        {person.name}
      </h4>
      {about.length === 0 && own.length === 0 && <p className="small muted">Nothing only they know yet.</p>}
      <EntryList entries={about} ctx={ctx} editable />
      <EntryList entries={own} ctx={ctx} editable={false} />
      {everyone.length > 0 && (
        <details className="memory-everyone" data-testid="memory-everyone">
          <summary className="small">Also what everyone knows ({everyone.length})</summary>
          <EntryList entries={everyone} ctx={ctx} editable={false} />
        </details>
      )}
    </section>
  );
}

function EntryList({ entries, ctx, editable }: { entries: MemoryEntry[]; ctx: Ctx; editable: boolean }) {
  if (!entries.length) return null;
  return (
    <ul className="memory-list">
      {entries.map((e) => (
        <EntryItem key={e.id} entry={e} ctx={ctx} editable={editable} />
      ))}
    </ul>
  );
}

function knownByWords(entry: MemoryEntry, nameOf: (key: string) => string): string {
  if (entry.known_by === null) return 'Known to everyone';
  if (entry.known_by.length === 0) return 'Known to nobody';
  return `Known to ${entry.known_by.map(nameOf).join(', ')}`;
}

/** "Pin" with the entry it acts on, for screen readers. */
function Hidden({ children }: { children: ReactNode }) {
  return <span className="visually-hidden">{children}</span>;
}

function shortText(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function EntryItem({ entry, ctx, editable }: { entry: MemoryEntry; ctx: Ctx; editable: boolean }) {
  const api = useApi();
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const controls = ctx.canEdit && editable;
  const about = <Hidden>: {shortText(entry.text)}</Hidden>;

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const togglePin = () =>
    run(async () => {
      ctx.onChanged(await api.updateMemory(ctx.conversationId, entry.id, { pinned: !entry.pinned }));
    });

  const remove = () =>
    run(async () => {
      await api.deleteMemory(ctx.conversationId, entry.id);
      ctx.onDeleted(entry.id);
    });

  return (
    <li
      className={`memory-entry${entry.pinned ? ' memory-pinned' : ''}${entry.covered ? ' memory-covered' : ''}`}
      data-testid="memory-entry"
      data-id={entry.id}
      data-kind={entry.kind}
    >
      <div className="memory-entry-head">
        {entry.pinned && (
          <span className="badge memory-pin" data-testid="memory-pin">
            <span aria-hidden="true">📌</span> pinned
          </span>
        )}
        <span className="badge memory-kind">{kindLabel(entry)}</span>
        <span className={`badge memory-source memory-source-${entry.source}`} data-testid="memory-source">
          <Hidden>written by </Hidden>
          {entry.source}
        </span>
        {entry.inherited && (
          <span className="badge memory-inherited" data-testid="memory-inherited" title="Copied from the conversation this one was forked from">
            inherited
          </span>
        )}
        {entry.covered && <span className="badge">folded</span>}
      </div>
      {entry.kind === 'relationship' && <Relationship entry={entry} />}
      {editing ? (
        <EditEntry
          entry={entry}
          ctx={ctx}
          onDone={(updated) => {
            if (updated) ctx.onChanged(updated);
            setEditing(false);
          }}
        />
      ) : (
        <>
          <p className="memory-text" data-testid="memory-text">
            {entry.text}
          </p>
          <p className="small muted memory-meta" data-testid="memory-known-by">
            {knownByWords(entry, ctx.nameOf)}
            {entry.kind === 'summary' && entry.covers_from !== null && entry.covers_to !== null
              ? ` · messages ${entry.covers_from}–${entry.covers_to}`
              : ''}
          </p>
        </>
      )}
      {controls && !editing && (
        <div className="memory-actions">
          <button type="button" className="secondary small" onClick={togglePin} disabled={busy} aria-pressed={entry.pinned} data-testid="memory-pin-toggle">
            {entry.pinned ? 'Unpin' : 'Pin'}
            {about}
          </button>
          <button type="button" className="secondary small" onClick={() => setEditing(true)} disabled={busy} data-testid="memory-edit">
            Edit{about}
          </button>
          {confirming ? (
            <span className="memory-confirm" role="group" aria-label="Confirm delete">
              <span className="small">{entry.inherited ? 'Delete it from this branch?' : 'Delete this entry?'}</span>{' '}
              <button type="button" className="small" onClick={remove} disabled={busy} data-testid="memory-delete-confirm">
                {busy ? 'Deleting…' : 'Yes, delete'}
              </button>{' '}
              <button type="button" className="secondary small" onClick={() => setConfirming(false)} disabled={busy} data-testid="memory-delete-cancel">
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" className="secondary small" onClick={() => setConfirming(true)} disabled={busy} data-testid="memory-delete">
              Delete{about}
            </button>
          )}
        </div>
      )}
      <ErrorBanner error={error} />
    </li>
  );
}

function Relationship({ entry }: { entry: MemoryEntry }) {
  const [open, setOpen] = useState(false);
  const listId = useId();
  return (
    <div className="memory-relationship">
      <p className="memory-pair" data-testid="memory-pair">
        <strong>
          {entry.subject} → {entry.target}
        </strong>
      </p>
      <p className="small memory-stance-line">
        {entry.value === null ? (
          <span data-testid="memory-stance">Stance unknown</span>
        ) : (
          <span className={`memory-stance memory-stance-${stanceWord(entry.value)}`} data-testid="memory-stance">
            {signed(entry.value)} {stanceWord(entry.value)}
          </span>
        )}
        {entry.trend !== null && (
          <>
            {' · '}
            <Trend change={entry.trend} />
          </>
        )}
      </p>
      {entry.history.length > 0 && (
        <>
          <button
            type="button"
            className="link-button small"
            aria-expanded={open}
            aria-controls={listId}
            onClick={() => setOpen((o) => !o)}
            data-testid="memory-history-toggle"
          >
            {open ? 'Hide history' : `History (${entry.history.length})`}
          </button>
          {open && (
            <ol id={listId} className="memory-history small" data-testid="memory-history">
              {entry.history.map((h, i) => (
                <li key={i} data-testid="memory-history-item">
                  {signed(h.change)}
                  {h.value !== null ? ` → ${signed(h.value)}` : ''}
                  {h.text ? `: ${h.text}` : ''} <span className="muted">· {h.source}</span>
                  {h.at && <span className="muted"> · {formatDateTime(h.at)}</span>}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </div>
  );
}

/** The last change: "▲ +5" warmer, "▼ -5" colder. */
function Trend({ change }: { change: number }) {
  if (change === 0) {
    return (
      <span className="memory-trend" data-testid="memory-trend">
        no change
      </span>
    );
  }
  const warmer = change > 0;
  return (
    <span className={`memory-trend ${warmer ? 'memory-warmer' : 'memory-colder'}`} data-testid="memory-trend">
      <span aria-hidden="true">{warmer ? '▲' : '▼'}</span> {signed(change)}
      <Hidden> ({warmer ? 'warmer' : 'colder'} at the last change)</Hidden>
    </span>
  );
}

/** "Who knows it": everyone, or the characters checked. */
function KnowersField({
  idPrefix,
  knowers,
  everyone,
  chosen,
  onChange,
  errors,
}: {
  idPrefix: string;
  knowers: Knower[];
  everyone: boolean;
  chosen: string[];
  onChange: (everyone: boolean, chosen: string[]) => void;
  errors?: string[];
}) {
  const toggle = (key: string, checked: boolean) => {
    const next = checked ? [...chosen.filter((k) => k !== key), key] : chosen.filter((k) => k !== key);
    onChange(checked ? false : everyone, next);
  };
  return (
    <fieldset className="field memory-knowers" aria-describedby={errors?.length ? fieldErrorId(`${idPrefix}-known_by`) : undefined}>
      <legend>Who knows it</legend>
      <div className="field checkbox">
        <input
          id={`${idPrefix}-everyone`}
          type="radio"
          name={`${idPrefix}-who`}
          checked={everyone}
          onChange={() => onChange(true, chosen)}
          data-testid="memory-knowers-everyone"
        />
        <label htmlFor={`${idPrefix}-everyone`}>Everyone</label>
      </div>
      {knowers.length > 0 && (
        <>
          <div className="field checkbox">
            <input
              id={`${idPrefix}-some`}
              type="radio"
              name={`${idPrefix}-who`}
              checked={!everyone}
              onChange={() => onChange(false, chosen)}
              data-testid="memory-knowers-some"
            />
            <label htmlFor={`${idPrefix}-some`}>Only these characters:</label>
          </div>
          <div className="memory-knower-choices">
            {knowers.map((k, i) => (
              <div key={k.key} className="field checkbox">
                <input
                  id={`${idPrefix}-knower-${i}`}
                  type="checkbox"
                  checked={!everyone && chosen.includes(k.key)}
                  onChange={(e) => toggle(k.key, e.target.checked)}
                  data-testid="memory-knower"
                />
                <label htmlFor={`${idPrefix}-knower-${i}`}>{k.name}</label>
              </div>
            ))}
          </div>
        </>
      )}
      {knowers.length === 0 && <p className="help">Nobody is in the scene: everyone knows it.</p>}
      <FieldError name={`${idPrefix}-known_by`} messages={errors} />
    </fieldset>
  );
}

/** The errors of `field` and its items ("known_by", "known_by.0"). */
function errorsOf(details: Record<string, string[]>, field: string): string[] | undefined {
  const messages = Object.entries(details)
    .filter(([key]) => key === field || key.startsWith(`${field}.`))
    .flatMap(([, list]) => list);
  return messages.length ? messages : undefined;
}

function parseStance(text: string): number | null {
  if (!/^[-+]?\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n >= STANCE_MIN && n <= STANCE_MAX ? n : null;
}

const STANCE_ERROR = `A whole number from ${STANCE_MIN} to ${STANCE_MAX}.`;
const KNOWERS_ERROR = 'Choose at least one character, or everyone.';

function EditEntry({ entry, ctx, onDone }: { entry: MemoryEntry; ctx: Ctx; onDone: (updated: MemoryEntry | null) => void }) {
  const api = useApi();
  const id = `memory-edit-${entry.id}`;
  const [text, setText] = useState(entry.text);
  const [value, setValue] = useState(entry.value === null ? '' : String(entry.value));
  const [everyone, setEveryone] = useState(entry.known_by === null);
  const [chosen, setChosen] = useState<string[]>(entry.known_by ?? []);
  const [local, setLocal] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const isRelationship = entry.kind === 'relationship';
  // Knowers no longer in the scene stay choosable while the entry names them.
  const knowers = [
    ...ctx.characters,
    ...(entry.known_by ?? []).filter((k) => !ctx.characters.some((c) => c.key === k)).map((k) => ({ key: k, name: ctx.nameOf(k) })),
  ];
  const details = { ...(error instanceof ApiError ? error.details : {}), ...local };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const errors: Record<string, string[]> = {};
    const body: MemoryEntryUpdate = {};
    const trimmed = text.trim();
    if (!trimmed) errors.text = ['Write something, or delete the entry.'];
    else if (trimmed !== entry.text) body.text = trimmed;
    if (isRelationship && value.trim() !== (entry.value === null ? '' : String(entry.value))) {
      const stance = parseStance(value);
      if (stance === null) errors.value = [STANCE_ERROR];
      else body.value = stance;
    }
    if (everyone) {
      if (entry.known_by !== null) body.everyone = true;
    } else if (!chosen.length) {
      errors.known_by = [KNOWERS_ERROR];
    } else if (entry.known_by === null || chosen.length !== entry.known_by.length || chosen.some((k) => !entry.known_by?.includes(k))) {
      body.known_by = chosen;
    }
    setLocal(errors);
    setError(null);
    if (Object.keys(errors).length) return;
    if (!Object.keys(body).length) {
      onDone(null);
      return;
    }
    setBusy(true);
    try {
      onDone(await api.updateMemory(ctx.conversationId, entry.id, body));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="memory-edit" onSubmit={save} noValidate aria-label="Edit the entry">
      <div className="field">
        <label htmlFor={`${id}-text`}>Text</label>
        <textarea
          id={`${id}-text`}
          rows={3}
          value={text}
          maxLength={MEMORY_TEXT_MAX}
          onChange={(e) => setText(e.target.value)}
          aria-invalid={details.text ? true : undefined}
          aria-describedby={details.text ? fieldErrorId(`${id}-text`) : undefined}
          data-testid="memory-edit-text"
        />
        <p className="counter">
          {text.length} / {MEMORY_TEXT_MAX}
        </p>
        <FieldError name={`${id}-text`} messages={details.text} />
      </div>
      {isRelationship && (
        <div className="field">
          <label htmlFor={`${id}-value`}>
            Stance <span className="optional">({STANCE_MIN} hostile to {STANCE_MAX} devoted)</span>
          </label>
          <input
            id={`${id}-value`}
            type="number"
            min={STANCE_MIN}
            max={STANCE_MAX}
            step={1}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={details.value ? true : undefined}
            aria-describedby={details.value ? fieldErrorId(`${id}-value`) : undefined}
            data-testid="memory-edit-value"
          />
          <FieldError name={`${id}-value`} messages={details.value} />
        </div>
      )}
      <KnowersField
        idPrefix={id}
        knowers={knowers}
        everyone={everyone}
        chosen={chosen}
        onChange={(all, some) => {
          setEveryone(all);
          setChosen(some);
        }}
        errors={errorsOf(details, 'known_by') ?? errorsOf(details, 'everyone')}
      />
      <ErrorBanner error={error} />
      <div className="actions">
        <button type="submit" className="small" disabled={busy} data-testid="memory-edit-save">
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="secondary small" onClick={() => onDone(null)} disabled={busy} data-testid="memory-edit-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}

function AddEntry({ ctx, people, onAdded }: { ctx: Ctx; people: Person[]; onAdded: (entry: MemoryEntry) => void }) {
  const api = useApi();
  const [open, setOpen] = useState(false);
  const [kind, setKind] = useState<MemoryCreateKind>('pin');
  const [subject, setSubject] = useState('');
  const [target, setTarget] = useState('');
  const [text, setText] = useState('');
  const [value, setValue] = useState('0');
  const [pinned, setPinned] = useState(true);
  const [everyone, setEveryone] = useState(true);
  const [chosen, setChosen] = useState<string[]>([]);
  const [local, setLocal] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const isRelationship = kind === 'relationship';
  const details = { ...(error instanceof ApiError ? error.details : {}), ...local };
  const listId = 'memory-add-names';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const errors: Record<string, string[]> = {};
    const body: MemoryEntryCreate = { kind, text: text.trim(), pinned, known_by: everyone ? null : chosen };
    if (!body.text) errors.text = ['Write what they should remember.'];
    if (subject.trim()) body.subject = subject.trim();
    if (isRelationship) {
      if (target.trim()) body.target = target.trim();
      const stance = parseStance(value);
      if (stance === null) errors.value = [STANCE_ERROR];
      else body.value = stance;
    }
    if (!everyone && !chosen.length) errors.known_by = [KNOWERS_ERROR];
    setLocal(errors);
    setError(null);
    if (Object.keys(errors).length) return;
    setBusy(true);
    try {
      onAdded(await api.addMemory(ctx.conversationId, body));
      setText('');
      setTarget('');
      setValue('0');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (name: string) => ({
    'aria-invalid': details[name] ? true : undefined,
    'aria-describedby': details[name] ? fieldErrorId(`memory-add-${name}`) : undefined,
  });

  return (
    <section className="memory-section memory-add" aria-labelledby="memory-add-heading">
      <h3 id="memory-add-heading" className="h-small">
        <button
          type="button"
          className="secondary small"
          aria-expanded={open}
          aria-controls="memory-add-form"
          onClick={() => setOpen((o) => !o)}
          data-testid="memory-add-toggle"
        >
          {open ? 'Close the form' : 'Add an entry'}
        </button>
      </h3>
      {open && (
        <form id="memory-add-form" onSubmit={submit} noValidate data-testid="memory-add-form">
          <div className="field">
            <label htmlFor="memory-add-kind">Kind</label>
            <select id="memory-add-kind" value={kind} onChange={(e) => setKind(e.target.value as MemoryCreateKind)} data-testid="memory-add-kind">
              {CREATE_KINDS.map((k) => (
                <option key={k.value} value={k.value}>
                  {k.label}
                </option>
              ))}
            </select>
          </div>
          <datalist id={listId}>
            {people.map((p) => (
              <option key={p.key} value={p.name} />
            ))}
          </datalist>
          <div className="field">
            <label htmlFor="memory-add-subject">
              {isRelationship ? 'Who feels' : 'About'}{' '}
              {!isRelationship && <span className="optional">(a character; empty: the world)</span>}
            </label>
            <input
              id="memory-add-subject"
              type="text"
              list={listId}
              value={subject}
              maxLength={100}
              onChange={(e) => setSubject(e.target.value)}
              data-testid="memory-add-subject"
              {...field('subject')}
            />
            <FieldError name="memory-add-subject" messages={details.subject} />
          </div>
          {isRelationship && (
            <>
              <div className="field">
                <label htmlFor="memory-add-target">Toward</label>
                <input
                  id="memory-add-target"
                  type="text"
                  list={listId}
                  value={target}
                  maxLength={100}
                  onChange={(e) => setTarget(e.target.value)}
                  data-testid="memory-add-target"
                  {...field('target')}
                />
                <FieldError name="memory-add-target" messages={details.target} />
              </div>
              <div className="field">
                <label htmlFor="memory-add-value">
                  Stance <span className="optional">({STANCE_MIN} hostile to {STANCE_MAX} devoted)</span>
                </label>
                <input
                  id="memory-add-value"
                  type="number"
                  min={STANCE_MIN}
                  max={STANCE_MAX}
                  step={1}
                  value={value}
                  onChange={(e) => setValue(e.target.value)}
                  data-testid="memory-add-value"
                  {...field('value')}
                />
                <FieldError name="memory-add-value" messages={details.value} />
              </div>
            </>
          )}
          <div className="field">
            <label htmlFor="memory-add-text">What to remember</label>
            <textarea
              id="memory-add-text"
              rows={3}
              value={text}
              maxLength={MEMORY_TEXT_MAX}
              onChange={(e) => setText(e.target.value)}
              data-testid="memory-add-text"
              {...field('text')}
            />
            <p className="counter">
              {text.length} / {MEMORY_TEXT_MAX}
            </p>
            <FieldError name="memory-add-text" messages={details.text} />
          </div>
          <KnowersField
            idPrefix="memory-add"
            knowers={ctx.characters}
            everyone={everyone}
            chosen={chosen}
            onChange={(all, some) => {
              setEveryone(all);
              setChosen(some);
            }}
            errors={errorsOf(details, 'known_by')}
          />
          <div className="field checkbox">
            <input id="memory-add-pinned" type="checkbox" checked={pinned} onChange={(e) => setPinned(e.target.checked)} data-testid="memory-add-pinned" />
            <label htmlFor="memory-add-pinned">Pinned: always in the prompt</label>
          </div>
          <ErrorBanner error={error} />
          <div className="actions">
            <button type="submit" disabled={busy} data-testid="memory-add-submit">
              {busy ? 'Adding…' : 'Add'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function CanonControl({
  conversationId,
  canEdit,
  canon,
  onSaved,
}: {
  conversationId: string;
  canEdit: boolean;
  canon: number | null;
  onSaved: (chapter: number | null) => void;
}) {
  const api = useApi();
  const [draft, setDraft] = useState(canon === null ? '' : String(canon));
  const [local, setLocal] = useState<string[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setDraft(canon === null ? '' : String(canon)), [canon]);
  const messages = local ?? (error instanceof ApiError ? error.details.canon_chapter : undefined);
  const now = canon === null ? 'where the scenario sits' : `chapter ${canon}`;

  const put = async (chapter: number | null) => {
    setBusy(true);
    setError(null);
    setLocal(undefined);
    try {
      const out = await api.saveCanon(conversationId, { canon_chapter: chapter });
      onSaved(out.canon_chapter);
      setDraft(out.canon_chapter === null ? '' : String(out.canon_chapter));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const save = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = draft.trim();
    if (!trimmed) {
      void put(null);
      return;
    }
    const n = Number(trimmed);
    if (!/^\d+$/.test(trimmed) || n < 1 || n > CANON_MAX) {
      setLocal([`A whole chapter number from 1 to ${CANON_MAX.toLocaleString()}, or empty.`]);
      return;
    }
    void put(n);
  };

  return (
    <section className="memory-section memory-canon" aria-labelledby="memory-canon-heading" data-testid="memory-canon">
      <h3 id="memory-canon-heading" className="h-small">
        Spoiler boundary
      </h3>
      <p className="small" data-testid="memory-canon-now">
        The novel is read up to {now}.
      </p>
      {canEdit && (
        <form onSubmit={save} noValidate>
          <div className="inline-form">
            <div className="field grow">
              <label htmlFor="memory-canon-input">Canon up to chapter</label>
              <input
                id="memory-canon-input"
                type="number"
                min={1}
                max={CANON_MAX}
                step={1}
                value={draft}
                onChange={(e) => {
                  setDraft(e.target.value);
                  setLocal(undefined);
                }}
                aria-invalid={messages ? true : undefined}
                aria-describedby={`memory-canon-help${messages ? ` ${fieldErrorId('canon_chapter')}` : ''}`}
                data-testid="memory-canon-input"
              />
            </div>
            <button type="submit" className="small" disabled={busy} data-testid="memory-canon-save">
              Save
            </button>
            <button type="button" className="secondary small" onClick={() => void put(null)} disabled={busy || canon === null} data-testid="memory-canon-clear">
              Clear
            </button>
          </div>
          <p className="help" id="memory-canon-help">
            Passages and what characters know of the novel stop at this chapter. Empty: where the scenario sits.
          </p>
          <FieldError name="canon_chapter" messages={messages} />
          <ErrorBanner error={error} />
        </form>
      )}
    </section>
  );
}
