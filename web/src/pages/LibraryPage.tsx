/** "My library": what the reader brought in. Stories (a .txt/.md/.epub file
 * or a URL, with the ingestion's progress, visibility, delete and the
 * quota), character cards (JSON/PNG/CHARX in and out), lorebooks
 * (lorebook_v3 and SillyTavern World Info in and out) and conversation
 * files. Every imported text is shown as plain text, never as markup. */

import { Fragment, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Pagination, fieldErrorId } from '../components/common';
import { ConversationImportForm } from '../components/ConversationImport';
import { DeleteButton } from '../components/DeleteButton';
import { DownloadButtons } from '../components/Downloads';
import { FileField, FileImportForm, extensionOf, useImportSubmit } from '../components/FileImport';
import { RequireLogin } from '../components/Layout';
import { VisibilityBadge, VisibilityControl, VisibilitySelect } from '../components/Visibility';
import { ApiError } from '../lib/api';
import { blobToDataUrl } from '../lib/download';
import { formatBytes, formatDateTime, plural } from '../lib/format';
import { useApi, useResource } from '../lib/session';
import type { CharacterCard, IngestJob, Lorebook, NovelImportAccepted, OwnNovel, Page, Visibility } from '../lib/types';
import { StatusBadge } from './NovelPages';

/** Limits the server applies too (checked here first to save an upload). */
export const STORY_MAX_BYTES = 10 * 1024 * 1024;
export const CARD_MAX_BYTES: Record<string, number> = { json: 2 * 1024 * 1024, png: 10 * 1024 * 1024, charx: 20 * 1024 * 1024 };
export const LOREBOOK_MAX_BYTES = 2 * 1024 * 1024;
/** How often a running story import is asked about (tests shorten it). */
export const LIBRARY_TIMING = { pollMs: 1000 };

type Tab = 'stories' | 'characters' | 'lorebooks' | 'conversations';
const TABS: Array<[Tab, string]> = [
  ['stories', 'Stories'],
  ['characters', 'Characters'],
  ['lorebooks', 'Lorebooks'],
  ['conversations', 'Conversations'],
];

export function LibraryPage() {
  return (
    <RequireLogin what="import stories, characters and lorebooks">
      <Library />
    </RequireLogin>
  );
}

function Library() {
  const [params, setParams] = useSearchParams();
  const raw = params.get('tab');
  const tab: Tab = TABS.some(([key]) => key === raw) ? (raw as Tab) : 'stories';
  return (
    <section className="library" data-testid="library">
      <h1>My library</h1>
      <div className="tabs" role="group" aria-label="Library sections">
        {TABS.map(([key, label]) => (
          <button
            key={key}
            type="button"
            className={`tab${tab === key ? ' active' : ''}`}
            aria-pressed={tab === key}
            onClick={() => setParams(key === 'stories' ? {} : { tab: key })}
            data-testid={`library-tab-${key}`}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === 'stories' && <Stories />}
      {tab === 'characters' && <Characters />}
      {tab === 'lorebooks' && <Lorebooks />}
      {tab === 'conversations' && <ConversationImportForm />}
    </section>
  );
}

/** A labelled raw text, shown as typed (HTML in it stays text). */
function PlainText({ label, text, testId }: { label: string; text: string | undefined; testId?: string }) {
  if (!text) return null;
  return (
    <div className="plain-field">
      <h4 className="h-small">{label}</h4>
      <pre className="plain-text" data-testid={testId}>
        {text}
      </pre>
    </div>
  );
}

function Warnings({ warnings }: { warnings: string[] }) {
  if (!warnings.length) return null;
  return (
    <div className="notice" data-testid="import-warnings">
      <p className="small">The import noticed:</p>
      <ul className="small">
        {warnings.map((w, i) => (
          <li key={i}>{w}</li>
        ))}
      </ul>
    </div>
  );
}

// -- stories --------------------------------------------------------------------

const runningStatus = (status: string) => status === 'pending' || status === 'processing';

function Stories() {
  const api = useApi();
  const [page, setPage] = useState(0);
  const novels = useResource((signal) => api.myNovels({ page, size: 20 }, signal), [page]);
  const [accepted, setAccepted] = useState<NovelImportAccepted | null>(null);
  const quota = novels.data?.quota;

  return (
    <section aria-labelledby="stories-heading">
      <h2 id="stories-heading" className="visually-hidden">
        Stories
      </h2>
      <StoryImportForm
        onImported={(result) => {
          setAccepted(result);
          setPage(0);
          novels.reload();
        }}
      />
      {accepted && (
        <p role="status" className="small" data-testid="story-accepted">
          “{accepted.novel.title}” is being read: about {Math.max(1, Math.round(accepted.estimated_duration_minutes))} min. Its progress
          shows below.
        </p>
      )}
      <h2 className="h-small">Your stories</h2>
      {quota && (
        <p className="small muted" data-testid="story-quota">
          {quota.used_count.toLocaleString()} of {plural(quota.max_count, 'story', 'stories')} · {formatBytes(quota.used_bytes)} of{' '}
          {formatBytes(quota.max_bytes)} used
        </p>
      )}
      <ErrorBanner error={novels.error} onRetry={novels.reload} />
      {novels.loading && !novels.data && <Loading />}
      {novels.data &&
        (novels.data.content.length === 0 ? (
          <Empty>You have not imported a story yet.</Empty>
        ) : (
          <>
            <ul className="card-list">
              {novels.data.content.map((n) => (
                <StoryCard
                  key={n.id}
                  novel={n}
                  onChanged={(next) =>
                    novels.setData((current) =>
                      current ? { ...current, content: current.content.map((c) => (c.id === next.id ? next : c)) } : current,
                    )
                  }
                  onDone={novels.reload}
                  onDeleted={novels.reload}
                />
              ))}
            </ul>
            <Pagination page={novels.data.page} onChange={setPage} noun="story" />
          </>
        ))}
    </section>
  );
}

function StoryImportForm({ onImported }: { onImported: (accepted: NovelImportAccepted) => void }) {
  const api = useApi();
  const [mode, setMode] = useState<'file' | 'url'>('file');
  const [file, setFile] = useState<File | null>(null);
  const [url, setUrl] = useState('');
  const [title, setTitle] = useState('');
  const [author, setAuthor] = useState('');
  const [visibility, setVisibility] = useState<Visibility>('private');
  const sending = useImportSubmit();
  const { errors } = sending;

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const found: Record<string, string[]> = {};
    if (mode === 'file') {
      if (!file) found.file = ['Choose a .txt, .md or .epub file.'];
      else if (!['txt', 'md', 'epub'].includes(extensionOf(file.name))) found.file = ['Only .txt, .md and .epub files can be imported.'];
      else if (file.size > STORY_MAX_BYTES) found.file = [`The file is larger than ${formatBytes(STORY_MAX_BYTES)}.`];
    } else if (!/^https?:\/\/\S+$/i.test(url.trim())) {
      found.url = ['Enter a web address starting with http:// or https://.'];
    }
    const options = { title: title.trim() || undefined, author: author.trim() || undefined, visibility };
    void sending.submit(event.currentTarget, found, async () => {
      onImported(mode === 'file' && file ? await api.importNovelFile(file, options) : await api.importNovelUrl(url.trim(), options));
      setFile(null);
      setUrl('');
      setTitle('');
      setAuthor('');
    });
  };

  return (
    <form className="card" onSubmit={submit} noValidate data-testid="story-import">
      <h2 className="h-small">Import a story</h2>
      <fieldset className="field">
        <legend>From</legend>
        <label className="inline-choice">
          <input type="radio" name="story-source" checked={mode === 'file'} onChange={() => setMode('file')} data-testid="story-mode-file" /> a
          file
        </label>{' '}
        <label className="inline-choice">
          <input type="radio" name="story-source" checked={mode === 'url'} onChange={() => setMode('url')} data-testid="story-mode-url" /> a web
          address
        </label>
      </fieldset>
      {mode === 'file' ? (
        <FileField
          id="story-file"
          label={`Story file (.txt, .md or .epub, up to ${formatBytes(STORY_MAX_BYTES)})`}
          accept=".txt,.md,.epub,text/plain,text/markdown,application/epub+zip"
          errors={errors.file}
          onChange={setFile}
          testId="story-file"
        />
      ) : (
        <div className="field">
          <label htmlFor="story-url">Web address of the text (a public http(s) page, .txt, .md or .epub)</label>
          <input
            id="story-url"
            type="url"
            value={url}
            maxLength={2000}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={errors.url ? true : undefined}
            aria-describedby={errors.url ? fieldErrorId('url') : undefined}
            data-testid="story-url"
          />
          <FieldError name="url" messages={errors.url} />
        </div>
      )}
      <div className="grid-2">
        <div className="field">
          <label htmlFor="story-title">
            Title <span className="optional">(optional: else the book’s own)</span>
          </label>
          <input id="story-title" type="text" value={title} maxLength={300} onChange={(e) => setTitle(e.target.value)} data-testid="story-title" />
          <FieldError name="title" messages={errors.title} />
        </div>
        <div className="field">
          <label htmlFor="story-author">
            Author <span className="optional">(optional)</span>
          </label>
          <input id="story-author" type="text" value={author} maxLength={200} onChange={(e) => setAuthor(e.target.value)} data-testid="story-author" />
          <FieldError name="author" messages={errors.author} />
        </div>
      </div>
      <VisibilitySelect
        id="story-visibility"
        value={visibility}
        onChange={(v) => setVisibility(v || 'private')}
        errors={errors.visibility}
        testId="story-visibility"
      />
      <ErrorBanner error={sending.error} />
      <button type="submit" disabled={sending.busy} data-testid="story-submit">
        {sending.busy ? 'Uploading…' : 'Import the story'}
      </button>
    </form>
  );
}

function StoryCard({
  novel,
  onChanged,
  onDone,
  onDeleted,
}: {
  novel: OwnNovel;
  onChanged: (novel: OwnNovel) => void;
  onDone: () => void;
  onDeleted: () => void;
}) {
  const api = useApi();
  const running = runningStatus(novel.ingestion_status);

  return (
    <li className="card" data-testid="story" data-id={novel.id} data-status={novel.ingestion_status}>
      <h3>
        {novel.ingestion_status === 'completed' ? <Link to={`/novels/${encodeURIComponent(novel.slug)}`}>{novel.title}</Link> : novel.title}{' '}
        <VisibilityBadge visibility={novel.visibility} />
      </h3>
      <p className="small muted">
        {novel.author ? `${novel.author} · ` : ''}
        <StatusBadge status={novel.ingestion_status} /> · {novel.source === 'url' ? 'from the web' : 'uploaded'}
        {novel.source_bytes ? ` · ${formatBytes(novel.source_bytes)}` : ''} · {formatDateTime(novel.created_at)}
        {novel.total_passages ? ` · ${plural(novel.total_passages, 'passage')}` : ''}
      </p>
      {running && novel.ingest_job_id && <JobProgress jobId={novel.ingest_job_id} onDone={onDone} />}
      {running && !novel.ingest_job_id && <p className="small muted">Waiting to be read…</p>}
      <VisibilityControl
        id={`story-visibility-${novel.id}`}
        value={novel.visibility}
        save={async (next) => onChanged(await api.updateNovel(novel.id, { visibility: next }))}
        className="novel-owner"
        selectTestId="story-visibility-select"
        errorName={`visibility-${novel.id}`}
      >
        <DeleteButton
          what={`“${novel.title}”`}
          onDelete={async () => {
            await api.deleteNovel(novel.id);
            onDeleted();
          }}
          testId="story-delete"
        />
      </VisibilityControl>
    </li>
  );
}

/** A running import's progress, asked of ai until it has ended. */
function JobProgress({ jobId, onDone }: { jobId: string; onDone: () => void }) {
  const api = useApi();
  const [job, setJob] = useState<IngestJob | null>(null);
  const [error, setError] = useState<unknown>(null);
  const done = useRef(onDone);
  done.current = onDone;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const poll = async () => {
      try {
        const fresh = await api.ingestStatus(jobId, controller.signal);
        if (stopped) return;
        setJob(fresh);
        setError(null);
        if (fresh.status === 'completed' || fresh.status === 'failed') {
          done.current();
          return;
        }
      } catch (err) {
        if (stopped) return;
        setError(err);
        // A job ai no longer knows: nothing more to ask.
        if (err instanceof ApiError && err.status === 404) return;
      }
      timer = setTimeout(() => void poll(), LIBRARY_TIMING.pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [api, jobId]);

  if (!job) return error ? <ErrorBanner error={error} /> : <Loading label="Asking how far it got…" />;
  const { passages_processed: processed, passages_total: total, characters_extracted: characters } = job.progress;
  return (
    <div className="job-progress" data-testid="story-progress" data-status={job.status}>
      <label className="small" htmlFor={`story-progress-${jobId}`}>
        {job.status === 'queued' ? 'Queued' : job.status === 'processing' ? 'Reading' : job.status} ·{' '}
        {processed.toLocaleString()} / {total ? total.toLocaleString() : '?'} passages · {plural(characters, 'character')}
      </label>
      <progress id={`story-progress-${jobId}`} max={total || 1} value={job.status === 'completed' ? total || 1 : processed} />
      {job.error && (
        <p className="stream-error small" role="alert" data-testid="story-job-error">
          {job.error}
        </p>
      )}
      <ErrorBanner error={error} />
    </div>
  );
}

// -- characters and lorebooks -------------------------------------------------------

/** A shelf of the reader's imports under its import form: what was just
 * imported opens at once (shown from the import's answer), "Open" shows one,
 * deleting it closes it. Its detail and delete have the test ids
 * `${kind}-detail` and `${kind}-delete`. */
function Shelf<Item extends { id: string }, Full extends { id: string; name: string }>({
  kind,
  label,
  heading,
  help,
  empty,
  noun,
  listClassName,
  loadPage,
  loadOne,
  remove,
  importForm,
  renderItem,
  renderDetail,
}: {
  kind: string;
  label: string;
  heading: string;
  help?: ReactNode;
  empty: string;
  noun: string;
  listClassName: string;
  loadPage: (query: { page: number; size: number }, signal: AbortSignal) => Promise<Page<Item>>;
  loadOne: (id: string, signal: AbortSignal) => Promise<Full>;
  remove: (id: string) => Promise<void>;
  importForm: (onImported: (item: Full) => void) => ReactNode;
  renderItem: (item: Item, open: () => void) => ReactNode;
  renderDetail: (item: Full) => ReactNode;
}) {
  const [page, setPage] = useState(0);
  const [openId, setOpenId] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Full | null>(null);
  const list = useResource((signal) => loadPage({ page, size: 20 }, signal), [page]);

  return (
    <section aria-label={label}>
      {importForm((item) => {
        setFresh(item);
        setOpenId(item.id);
        setPage(0);
        list.reload();
      })}
      {openId && (
        <ShelfDetail
          key={openId}
          kind={kind}
          id={openId}
          initial={fresh?.id === openId ? fresh : null}
          load={loadOne}
          render={renderDetail}
          onClose={() => setOpenId(null)}
          onDelete={async (id) => {
            await remove(id);
            setOpenId(null);
            list.reload();
          }}
        />
      )}
      <h2 className="h-small">{heading}</h2>
      {help}
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading />}
      {list.data &&
        (list.data.content.length === 0 ? (
          <Empty>{empty}</Empty>
        ) : (
          <>
            <ul className={listClassName}>
              {list.data.content.map((item) => (
                <Fragment key={item.id}>{renderItem(item, () => setOpenId(item.id))}</Fragment>
              ))}
            </ul>
            <Pagination page={list.data.page} onChange={setPage} noun={noun} />
          </>
        ))}
    </section>
  );
}

function ShelfDetail<Full extends { id: string; name: string }>({
  kind,
  id,
  initial,
  load,
  render,
  onClose,
  onDelete,
}: {
  kind: string;
  id: string;
  initial: Full | null;
  load: (id: string, signal: AbortSignal) => Promise<Full>;
  render: (item: Full) => ReactNode;
  onClose: () => void;
  onDelete: (id: string) => Promise<void>;
}) {
  const resource = useResource(initial ? null : (signal) => load(id, signal), [id]);
  const item = initial ?? resource.data;
  if (!item) return resource.error ? <ErrorBanner error={resource.error} onRetry={resource.reload} /> : <Loading />;
  return (
    <section className="card library-detail" aria-label={item.name} data-testid={`${kind}-detail`}>
      <div className="library-detail-head">
        <h2>{item.name}</h2>
        <button type="button" className="secondary small" onClick={onClose}>
          Close
        </button>
      </div>
      {render(item)}
      <DeleteButton what={item.name} onDelete={() => onDelete(item.id)} testId={`${kind}-delete`} />
    </section>
  );
}

// -- characters ----------------------------------------------------------------

function Characters() {
  const api = useApi();
  return (
    <Shelf
      kind="character"
      label="Characters"
      heading="Your characters"
      empty="No characters yet: import a Character Card."
      noun="character"
      listClassName="card-list library-cards"
      loadPage={(query, signal) => api.cards(query, signal)}
      loadOne={(id, signal) => api.card(id, signal)}
      remove={(id) => api.deleteCard(id)}
      importForm={(onImported) => (
        <FileImportForm
          idPrefix="card"
          testId="card-import"
          title="Import a character"
          help="Character Card V1, V2 or V3: JSON, PNG (the card inside the picture) or CHARX."
          fileLabel="Card file (.json up to 2 MB, .png up to 10 MB, .charx up to 20 MB)"
          accept=".json,.png,.charx,application/json,image/png"
          check={checkCard}
          upload={(file) => api.importCard(file)}
          onImported={onImported}
          submitLabel="Import the character"
        />
      )}
      renderItem={(c, open) => (
        <li className="card small-card library-card" data-testid="character-card" data-id={c.id}>
          {c.has_image ? <CardImage id={c.id} name={c.name} /> : <span className="card-thumb card-thumb-empty" aria-hidden="true" />}
          <div>
            <h3>{c.name}</h3>
            <p className="small muted">
              {c.nickname ? `“${c.nickname}” · ` : ''}
              {specLabel(c.spec, c.spec_version)} · {c.container.toUpperCase()}
              {c.creator ? ` · by ${c.creator}` : ''}
              {c.lorebook_entries ? ` · ${plural(c.lorebook_entries, 'lore entry', 'lore entries')}` : ''}
            </p>
            {c.tags.length > 0 && <p className="small muted">{c.tags.join(' · ')}</p>}
            <button type="button" className="secondary small" onClick={open} data-testid="character-open">
              Open
            </button>
          </div>
        </li>
      )}
      renderDetail={(c) => <CardDetail card={c} />}
    />
  );
}

function checkCard(file: File | null): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const ext = file ? extensionOf(file.name) : '';
  if (!file) found.file = ['Choose a .json, .png or .charx card.'];
  else if (!(ext in CARD_MAX_BYTES)) found.file = ['Only .json, .png and .charx cards can be imported.'];
  else if (file.size > CARD_MAX_BYTES[ext]) found.file = [`A .${ext} card can be at most ${formatBytes(CARD_MAX_BYTES[ext])}.`];
  return found;
}

function specLabel(spec: string, version: string): string {
  const major = /_v(\d)$/.exec(spec)?.[1] ?? '';
  return `Card V${major}${version ? ` (${version})` : ''}`;
}

/** A card's image: fetched with the token, shown as a data: URL. */
function CardImage({ id, name, large = false }: { id: string; name: string; large?: boolean }) {
  const api = useApi();
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    api
      .cardImage(id, controller.signal)
      .then((file) => blobToDataUrl(file.blob, 'image/png'))
      .then(
        (data) => {
          if (!controller.signal.aborted) setUrl(data);
        },
        () => undefined,
      );
    return () => controller.abort();
  }, [api, id]);
  if (!url) return <span className={`card-thumb${large ? ' large' : ''} card-thumb-empty`} aria-hidden="true" />;
  return <img className={`card-thumb${large ? ' large' : ''}`} src={url} alt={`${name}’s picture`} data-testid="character-image" />;
}

function CardDetail({ card: c }: { card: CharacterCard }) {
  const api = useApi();
  return (
    <>
      <div className="card-detail-head">
        {c.has_image && <CardImage id={c.id} name={c.name} large />}
        <p className="small muted">
          {c.nickname ? `“${c.nickname}” · ` : ''}
          {specLabel(c.spec, c.spec_version)} · came as {c.container.toUpperCase()}
          {c.creator ? ` · by ${c.creator}` : ''}
          {c.character_version ? ` · version ${c.character_version}` : ''} · imported {formatDateTime(c.created_at)}
        </p>
      </div>
      {c.tags.length > 0 && <p className="small">Tags: {c.tags.join(' · ')}</p>}
      <Warnings warnings={c.warnings} />
      <PlainText label="Description" text={c.description} testId="character-description" />
      <PlainText label="Personality" text={c.personality} testId="character-personality" />
      <PlainText label="Scenario" text={c.scenario} />
      <PlainText label="First message" text={c.first_mes} testId="character-first-mes" />
      {c.alternate_greetings.map((g, i) => (
        <PlainText key={`alt-${i}`} label={`Other greeting ${i + 1}`} text={g} />
      ))}
      {c.group_only_greetings.map((g, i) => (
        <PlainText key={`group-${i}`} label={`Group greeting ${i + 1}`} text={g} />
      ))}
      <PlainText label="Example messages" text={c.mes_example} />
      <PlainText label="System prompt" text={c.system_prompt} />
      <PlainText label="After-history instructions" text={c.post_history_instructions} />
      <PlainText label="Creator’s notes" text={c.creator_notes} testId="character-notes" />
      {c.lorebook_entries > 0 && <p className="small">Its own lorebook: {plural(c.lorebook_entries, 'entry', 'entries')}.</p>}
      {c.assets.length > 0 && (
        <details>
          <summary className="small">{plural(c.assets.length, 'file')} it carried</summary>
          <ul className="small">
            {c.assets.map((a) => (
              <li key={a.path}>
                {a.path} · {formatBytes(a.size)}
              </li>
            ))}
          </ul>
        </details>
      )}
      <DownloadButtons
        label="Export"
        testId="character-export"
        choices={[
          { label: 'JSON', testId: 'character-export-json', fetch: () => api.exportCard(c.id, 'json') },
          { label: 'PNG', testId: 'character-export-png', fetch: () => api.exportCard(c.id, 'png') },
          { label: 'CHARX', testId: 'character-export-charx', fetch: () => api.exportCard(c.id, 'charx') },
        ]}
      />
    </>
  );
}

// -- lorebooks -------------------------------------------------------------------

const KIND_LABEL: Record<string, string> = {
  lorebook_v3: 'lorebook_v3',
  worldinfo: 'SillyTavern World Info',
  character_book: 'a card’s lorebook',
};

function Lorebooks() {
  const api = useApi();
  return (
    <Shelf
      kind="lorebook"
      label="Lorebooks"
      heading="Your lorebooks"
      help={<p className="help">Attach one to a conversation (its “Lorebooks” box): entries whose keys appear in recent messages join the prompt.</p>}
      empty="No lorebooks yet."
      noun="lorebook"
      listClassName="card-list"
      loadPage={(query, signal) => api.lorebooks(query, signal)}
      loadOne={(id, signal) => api.lorebook(id, signal)}
      remove={(id) => api.deleteLorebook(id)}
      importForm={(onImported) => (
        <FileImportForm
          idPrefix="lorebook"
          testId="lorebook-import"
          title="Import a lorebook"
          help="A lorebook_v3 file, SillyTavern World Info or a card’s character_book (.json)."
          fileLabel="Lorebook file (.json, up to 2 MB)"
          accept=".json,application/json"
          check={checkLorebook}
          upload={(file) => api.importLorebook(file)}
          onImported={onImported}
          submitLabel="Import the lorebook"
        />
      )}
      renderItem={(b, open) => (
        <li className="card small-card" data-testid="lorebook" data-id={b.id}>
          <h3>{b.name}</h3>
          <p className="small muted">
            {plural(b.entry_count, 'entry', 'entries')} · {KIND_LABEL[b.kind] ?? b.kind} · {formatDateTime(b.created_at)}
          </p>
          <button type="button" className="secondary small" onClick={open} data-testid="lorebook-open">
            Open
          </button>
        </li>
      )}
      renderDetail={(b) => <LorebookDetail book={b} />}
    />
  );
}

function checkLorebook(file: File | null): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  if (!file) found.file = ['Choose a .json lorebook.'];
  else if (extensionOf(file.name) !== 'json') found.file = ['Only .json lorebooks can be imported.'];
  else if (file.size > LOREBOOK_MAX_BYTES) found.file = [`A lorebook can be at most ${formatBytes(LOREBOOK_MAX_BYTES)}.`];
  return found;
}

function LorebookDetail({ book: b }: { book: Lorebook }) {
  const api = useApi();
  return (
    <>
      <p className="small muted">
        {plural(b.entry_count, 'entry', 'entries')} · came as {KIND_LABEL[b.kind] ?? b.kind} · imported {formatDateTime(b.created_at)}
      </p>
      <Warnings warnings={b.warnings} />
      <DownloadButtons
        label="Export"
        testId="lorebook-export"
        choices={[
          { label: 'lorebook_v3', testId: 'lorebook-export-v3', fetch: () => api.exportLorebook(b.id, 'lorebook_v3') },
          { label: 'World Info', testId: 'lorebook-export-worldinfo', fetch: () => api.exportLorebook(b.id, 'worldinfo') },
        ]}
      />
      <ol className="lore-entries">
        {b.entries.map((e) => (
          <li key={e.id} className={`lore-entry${e.enabled ? '' : ' disabled'}`} data-testid="lorebook-entry">
            <p>
              <strong>{e.name || `Entry ${e.id}`}</strong>{' '}
              <span className="small muted">
                {e.constant ? 'always in · ' : ''}
                {e.enabled ? '' : 'off · '}order {e.insertion_order}
                {e.priority !== null ? ` · priority ${e.priority}` : ''}
                {e.position ? ` · ${e.position.replace('_', ' ')}` : ''}
              </span>
            </p>
            {e.keys.length > 0 && <p className="small">Keys: {e.keys.join(', ')}</p>}
            {e.secondary_keys.length > 0 && <p className="small">Also needs: {e.secondary_keys.join(', ')}</p>}
            <pre className="plain-text" data-testid="lorebook-entry-content">
              {e.content}
            </pre>
          </li>
        ))}
      </ol>
    </>
  );
}
