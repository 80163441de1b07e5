import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, Loading, Pagination } from '../components/common';
import { DeleteButton } from '../components/DeleteButton';
import { DownloadButtons } from '../components/Downloads';
import { VisibilityBadge, VisibilityControl } from '../components/Visibility';
import { ScenarioList } from '../components/ScenarioCard';
import { ApiError } from '../lib/api';
import { plural } from '../lib/format';
import { useApi, useResource, useSession } from '../lib/session';
import type { Character, Novel, PassageSearchResult } from '../lib/types';

const STATUSES = ['pending', 'processing', 'completed', 'failed', 'missing'] as const;

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

export function NovelsPage() {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const status = params.get('status') ?? '';
  const page = Number(params.get('page') ?? 0) || 0;
  const [draft, setDraft] = useState(q);
  const novels = useResource((signal) => api.novels({ q, status, page, size: 20 }, signal), [q, status, page]);

  const update = (next: Record<string, string>) => {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v) merged.set(k, v);
      else merged.delete(k);
    }
    setParams(merged);
  };

  return (
    <section>
      <h1>Novels</h1>
      <form
        className="filters"
        role="search"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          update({ q: draft.trim(), page: '' });
        }}
      >
        <div className="field">
          <label htmlFor="novel-q">Title or author</label>
          <input id="novel-q" type="search" value={draft} maxLength={200} onChange={(e) => setDraft(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="novel-status">Status</label>
          <select id="novel-status" value={status} onChange={(e) => update({ status: e.target.value, page: '' })}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Search</button>
      </form>
      <ErrorBanner error={novels.error} onRetry={novels.reload} />
      {novels.loading && <Loading />}
      {novels.data && (
        <>
          {novels.data.content.length === 0 ? (
            <Empty>No novels match.</Empty>
          ) : (
            <ul className="card-list">
              {novels.data.content.map((n) => (
                <NovelCard key={n.id} novel={n} />
              ))}
            </ul>
          )}
          <Pagination page={novels.data.page} onChange={(p) => update({ page: String(p) })} noun="novel" />
        </>
      )}
    </section>
  );
}

function NovelCard({ novel }: { novel: Novel }) {
  return (
    <li className="card" data-testid="novel-card">
      <h3>
        <Link to={`/novels/${encodeURIComponent(novel.slug)}`}>{novel.title}</Link>
      </h3>
      <p className="muted small">
        {novel.author}
        {novel.publication_year ? ` · ${novel.publication_year}` : ''}
        {novel.genre ? ` · ${novel.genre}` : ''} · <StatusBadge status={novel.ingestion_status} />
        {novel.total_passages ? ` · ${plural(novel.total_passages, 'passage')}` : ''}
      </p>
    </li>
  );
}

export function NovelDetailPage() {
  const { idOrSlug = '' } = useParams();
  const api = useApi();
  const { user } = useSession();
  const [scenarioPage, setScenarioPage] = useState(0);
  const novel = useResource((signal) => api.novel(idOrSlug, signal), [idOrSlug]);
  const slug = novel.data?.slug;
  const scenarios = useResource(
    slug ? (signal) => api.scenarios({ base_story: slug, page: scenarioPage, size: 10, sort: 'quality_score,desc' }, signal) : null,
    [slug, scenarioPage],
  );
  const novelId = novel.data?.id;
  const cast = useResource(novelId && user ? (signal) => api.characters(novelId, signal) : null, [novelId, user?.id]);

  if (novel.loading && !novel.data) return <Loading />;
  if (!novel.data) return <ErrorBanner error={novel.error} onRetry={novel.reload} />;
  const n = novel.data;
  return (
    <article className="novel-detail">
      <header className="page-header">
        <h1>
          {n.title} {n.owner_id && <VisibilityBadge visibility={n.visibility} />}
        </h1>
        <p className="muted">
          {n.author}
          {n.publication_year ? ` · ${n.publication_year}` : ''}
          {n.genre ? ` · ${n.genre}` : ''} · <StatusBadge status={n.ingestion_status} />
          {n.total_passages ? ` · ${plural(n.total_passages, 'passage')}` : ''}
          {n.total_characters ? ` · ${plural(n.total_characters, 'character')}` : ''}
        </p>
        <Link className="button" to={`/scenarios/new?base_story=${encodeURIComponent(n.slug)}`}>
          Create a what-if on this story
        </Link>
        {user && n.owner_id && (n.owner_id === user.id || user.isStaff) && (
          <NovelOwnerControls novel={n} onChanged={(next) => novel.setData((current) => (current ? { ...current, ...next } : current))} />
        )}
        {n.ingestion_status === 'completed' && (
          <DownloadButtons
            label="Lorebook of its places and characters"
            testId="novel-lorebook-export"
            choices={[
              { label: 'lorebook_v3', testId: 'novel-lorebook-v3', fetch: () => api.exportNovelLorebook(n.id, 'lorebook_v3') },
              { label: 'World Info', testId: 'novel-lorebook-worldinfo', fetch: () => api.exportNovelLorebook(n.id, 'worldinfo') },
            ]}
          />
        )}
      </header>

      <section aria-labelledby="scenarios-heading">
        <h2 id="scenarios-heading">What-ifs on this story</h2>
        <ErrorBanner error={scenarios.error} onRetry={scenarios.reload} />
        {scenarios.loading && <Loading />}
        {scenarios.data &&
          (scenarios.data.content.length === 0 ? (
            <Empty>No what-ifs yet. Be the first.</Empty>
          ) : (
            <>
              <ScenarioList items={scenarios.data.content} />
              <Pagination page={scenarios.data.page} onChange={setScenarioPage} noun="what-if" />
            </>
          ))}
      </section>

      <section aria-labelledby="cast-heading">
        <h2 id="cast-heading">Cast</h2>
        {!user ? (
          <p>
            <Link to="/login" state={{ from: `/novels/${n.slug}` }}>
              Log in
            </Link>{' '}
            to see the cast and search the text.
          </p>
        ) : cast.loading ? (
          <Loading />
        ) : cast.error instanceof ApiError && cast.error.status === 404 ? (
          <Empty>The cast has not been extracted yet (the novel is not ingested).</Empty>
        ) : cast.error ? (
          <ErrorBanner error={cast.error} onRetry={cast.reload} />
        ) : (
          <ul className="cast-list">
            {(cast.data ?? []).map((c) => (
              <li key={c.vectordb_id} className="card small-card" data-testid="cast-member">
                <h3>{c.name}</h3>
                {c.aliases.length > 0 && <p className="muted small">Also: {c.aliases.join(', ')}</p>}
                <p className="small">
                  <span className="badge">{c.role}</span> first seen in chapter {c.first_chapter} · {plural(c.mention_count, 'mention')}
                </p>
                {c.description && <p className="small">{c.description}</p>}
                {c.personality_traits.length > 0 && <p className="muted small">{c.personality_traits.join(' · ')}</p>}
                <DownloadButtons
                  label={`${c.name} as a card`}
                  choices={[
                    { label: 'Card (JSON)', testId: 'cast-card-json', fetch: () => api.exportNovelCharacterCard(n.id, castId(c), 'json') },
                    { label: 'Card (PNG)', testId: 'cast-card-png', fetch: () => api.exportNovelCharacterCard(n.id, castId(c), 'png') },
                  ]}
                />
              </li>
            ))}
          </ul>
        )}
      </section>

      {user && <PassageSearch novelId={n.id} />}
    </article>
  );
}

/** A character's id in its novel's cast (`vectordb_id` is its older name). */
function castId(c: Character): string {
  return c.id || c.vectordb_id;
}

/** The novel's owner (or staff): who may see it, and deleting it. */
function NovelOwnerControls({ novel, onChanged }: { novel: Novel; onChanged: (novel: Novel) => void }) {
  const api = useApi();
  const navigate = useNavigate();
  return (
    <VisibilityControl
      id="novel-visibility"
      value={novel.visibility}
      save={async (next) => onChanged(await api.updateNovel(novel.id, { visibility: next }))}
      className="novel-owner"
      testId="novel-owner"
      selectTestId="novel-visibility"
    >
      <DeleteButton
        what={`“${novel.title}”`}
        onDelete={async () => {
          await api.deleteNovel(novel.id);
          navigate('/library');
        }}
        testId="novel-delete"
      />
    </VisibilityControl>
  );
}

function PassageSearch({ novelId }: { novelId: string }) {
  const api = useApi();
  const [query, setQuery] = useState('');
  const [topK, setTopK] = useState(5);
  const [result, setResult] = useState<PassageSearchResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const text = query.trim();
    if (!text) return;
    setBusy(true);
    setError(null);
    try {
      setResult(await api.searchPassages({ query: text, novel_id: novelId, top_k: topK }));
    } catch (err) {
      setError(err);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="passages-heading">
      <h2 id="passages-heading">Search the text</h2>
      <form className="filters" role="search" onSubmit={submit}>
        <div className="field grow">
          <label htmlFor="passage-query">Find passages about</label>
          <input id="passage-query" type="search" value={query} maxLength={1999} onChange={(e) => setQuery(e.target.value)} data-testid="passage-query" />
        </div>
        <div className="field">
          <label htmlFor="passage-topk">Results</label>
          <select id="passage-topk" value={topK} onChange={(e) => setTopK(Number(e.target.value))}>
            {[5, 10, 20, 50].map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy || !query.trim()}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      <ErrorBanner error={error} />
      <div aria-live="polite">
        {result && (
          <>
            <p className="muted small">
              {plural(result.total_results, 'passage')} in {Math.round(result.query_embedding_time_ms + result.search_time_ms)} ms
            </p>
            <ol className="passages">
              {result.passages.map((p) => (
                <li key={p.id} className="card passage" data-testid="passage">
                  <p className="muted small">
                    Chapter {p.chapter}
                    {p.metadata.chapter_title ? ` — ${p.metadata.chapter_title}` : ''} · similarity {p.similarity_score.toFixed(3)}
                  </p>
                  <blockquote>{p.text}</blockquote>
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
    </section>
  );
}
