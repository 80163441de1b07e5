import { useEffect, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, Loading, Pagination } from '../components/common';
import { ScenarioList } from '../components/ScenarioCard';
import { resultCount } from '../lib/format';
import { BASE_STORY_PATTERN, SCENARIO_TYPES, typeLabel } from '../lib/scenarioSchema';
import { useApi, useResource } from '../lib/session';
import type { ScenarioType } from '../lib/types';

function useParamsState() {
  const [params, setParams] = useSearchParams();
  const get = (key: string) => params.get(key) ?? '';
  const update = (next: Record<string, string>, resetPage = true) => {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v) merged.set(k, v);
      else merged.delete(k);
    }
    if (resetPage && !('page' in next)) merged.delete('page');
    setParams(merged);
  };
  return { params, get, update };
}

const BROWSE_SORTS: Array<[string, string]> = [
  ['created_at,desc', 'Newest'],
  ['created_at,asc', 'Oldest'],
  ['quality_score,desc', 'Best quality'],
  ['fork_count,desc', 'Most forked'],
  ['conversation_count,desc', 'Most talked about'],
  ['updated_at,desc', 'Recently updated'],
];

const SEARCH_SORTS: Array<[string, string]> = [
  ['relevance,desc', 'Relevance'],
  ['quality_score,desc', 'Best quality'],
  ['created_at,desc', 'Newest'],
  ['fork_count,desc', 'Most forked'],
];

function TypeSelect({ id, value, onChange }: { id: string; value: string; onChange: (v: string) => void }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">Any kind</option>
      {SCENARIO_TYPES.map((t) => (
        <option key={t.type} value={t.type}>
          {t.label}
        </option>
      ))}
    </select>
  );
}

function QualitySelect({ id, value, onChange }: { id: string; value: string; onChange: (v: string) => void }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">Any quality</option>
      {['0.2', '0.4', '0.6', '0.8'].map((q) => (
        <option key={q} value={q}>
          at least {Math.round(Number(q) * 100)}%
        </option>
      ))}
    </select>
  );
}

function slugOrEmpty(value: string): string {
  const v = value.trim();
  return BASE_STORY_PATTERN.test(v) ? v : '';
}

export function ScenariosPage() {
  const api = useApi();
  const { get, update } = useParamsState();
  const baseStory = get('base_story');
  const type = get('scenario_type');
  const minQuality = get('min_quality');
  const sort = get('sort') || 'created_at,desc';
  const page = Number(get('page')) || 0;
  const [storyDraft, setStoryDraft] = useState(baseStory);
  useEffect(() => setStoryDraft(baseStory), [baseStory]);

  const list = useResource(
    (signal) =>
      api.scenarios({ base_story: baseStory, scenario_type: type, min_quality: minQuality, sort, page, size: 20 }, signal),
    [baseStory, type, minQuality, sort, page],
  );

  return (
    <section>
      <h1>What-if scenarios</h1>
      <form
        className="filters"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          update({ base_story: slugOrEmpty(storyDraft) });
        }}
      >
        <div className="field">
          <label htmlFor="f-story">Base story (slug)</label>
          <input id="f-story" type="text" value={storyDraft} placeholder="pride-and-prejudice" maxLength={100} onChange={(e) => setStoryDraft(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-type">Kind</label>
          <TypeSelect id="f-type" value={type} onChange={(v) => update({ scenario_type: v })} />
        </div>
        <div className="field">
          <label htmlFor="f-quality">Quality</label>
          <QualitySelect id="f-quality" value={minQuality} onChange={(v) => update({ min_quality: v })} />
        </div>
        <div className="field">
          <label htmlFor="f-sort">Sort</label>
          <select id="f-sort" value={sort} onChange={(e) => update({ sort: e.target.value })}>
            {BROWSE_SORTS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Apply</button>
      </form>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.loading && <Loading />}
      {list.data && (
        <>
          {list.data.content.length === 0 ? <Empty>No scenarios match these filters.</Empty> : <ScenarioList items={list.data.content} />}
          <Pagination page={list.data.page} itemCount={list.data.content.length} onChange={(p) => update({ page: String(p) }, false)} noun="scenario" />
        </>
      )}
    </section>
  );
}

export function ScenarioSearchPage() {
  const api = useApi();
  const { get, update } = useParamsState();
  const q = get('q');
  const baseStory = get('base_story');
  const type = get('scenario_type');
  const minQuality = get('min_quality');
  const hasForks = get('has_forks');
  const sort = get('sort') || 'relevance,desc';
  const page = Number(get('page')) || 0;
  const [draft, setDraft] = useState(q);
  const [storyDraft, setStoryDraft] = useState(baseStory);
  useEffect(() => setDraft(q), [q]);
  useEffect(() => setStoryDraft(baseStory), [baseStory]);

  const results = useResource(
    (signal) =>
      api.searchScenarios(
        { q, base_story: baseStory, scenario_type: type, min_quality: minQuality, has_forks: hasForks, sort, page, size: 20 },
        signal,
      ),
    [q, baseStory, type, minQuality, hasForks, sort, page],
  );
  const data = results.data;
  const typeFacets = data?.facets?.scenario_types ?? {};
  const qualityFacets: Record<string, number> = data?.facets?.quality_ranges ?? {};

  return (
    <section>
      <h1>Search what-ifs</h1>
      <form
        className="filters"
        role="search"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          update({ q: draft.trim().slice(0, 200), base_story: slugOrEmpty(storyDraft) });
        }}
      >
        <div className="field grow">
          <label htmlFor="s-q">Search</label>
          <input id="s-q" type="search" value={draft} maxLength={200} placeholder="Darcy refuses, Pemberley…" onChange={(e) => setDraft(e.target.value)} data-testid="search-input" />
        </div>
        <div className="field">
          <label htmlFor="s-story">Base story (slug)</label>
          <input id="s-story" type="text" value={storyDraft} maxLength={100} onChange={(e) => setStoryDraft(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="s-forks">Forks</label>
          <select id="s-forks" value={hasForks} onChange={(e) => update({ has_forks: e.target.value })}>
            <option value="">Any</option>
            <option value="true">Has forks</option>
            <option value="false">No forks</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="s-sort">Sort</label>
          <select id="s-sort" value={sort} onChange={(e) => update({ sort: e.target.value })}>
            {SEARCH_SORTS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" data-testid="search-submit">
          Search
        </button>
      </form>

      <div className="search-layout">
        <aside className="facets" aria-label="Filter results">
          <h2 className="h-small">Kind</h2>
          <ul>
            <li>
              <button type="button" className={`facet${!type ? ' active' : ''}`} aria-pressed={!type} onClick={() => update({ scenario_type: '' })}>
                Any kind
              </button>
            </li>
            {SCENARIO_TYPES.map((t) => (
              <li key={t.type}>
                <button
                  type="button"
                  className={`facet${type === t.type ? ' active' : ''}`}
                  aria-pressed={type === t.type}
                  data-testid={`facet-${t.type}`}
                  onClick={() => update({ scenario_type: type === t.type ? '' : t.type })}
                >
                  {typeLabel(t.type)} <span className="count">{(typeFacets as Record<ScenarioType, number | undefined>)[t.type] ?? 0}</span>
                </button>
              </li>
            ))}
          </ul>
          <h2 className="h-small">Quality</h2>
          <ul>
            <li>
              <button type="button" className={`facet${!minQuality ? ' active' : ''}`} aria-pressed={!minQuality} onClick={() => update({ min_quality: '' })}>
                Any quality
              </button>
            </li>
            {Object.entries(qualityFacets).map(([range, count]) => {
              const low = range.split('-')[0];
              const active = minQuality !== '' && Number(minQuality) === Number(low);
              return (
                <li key={range}>
                  <button
                    type="button"
                    className={`facet${active ? ' active' : ''}`}
                    aria-pressed={active}
                    onClick={() => update({ min_quality: active ? '' : low })}
                    title={`${count} in ${range}; shows every score from ${low} up`}
                  >
                    {range} <span className="count">{count}</span>
                  </button>
                </li>
              );
            })}
          </ul>
        </aside>
        <div className="results" aria-live="polite" aria-busy={results.loading}>
          <ErrorBanner error={results.error} onRetry={results.reload} />
          {results.loading && <Loading label="Searching…" />}
          {data && (
            <>
              <p className="muted" data-testid="result-count">
                {resultCount(data.page)}
                {data.matched_by === 'full_text' && ' · matched by full text'}
                {data.matched_by === 'trigram' && ' · no exact matches, showing close spellings'}
              </p>
              {data.content.length === 0 ? <Empty>Nothing matches. Try other words or fewer filters.</Empty> : <ScenarioList items={data.content} />}
              <Pagination page={data.page} itemCount={data.content.length} onChange={(p) => update({ page: String(p) }, false)} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}
