/** Search the messages of the reader's own conversations
 * (`#/search-messages?q=...`); each hit links to its conversation, at the message. */

import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Pagination, fieldErrorId } from '../components/common';
import { RequireLogin } from '../components/Layout';
import { Snippet } from '../components/Snippet';
import { ApiError } from '../lib/api';
import { formatDateTime, speakerName } from '../lib/format';
import { useApi, useResource } from '../lib/session';

export const SEARCH_QUERY_MAX = 200;
const PAGE_SIZE = 20;

export function MessageSearchPage() {
  return (
    <RequireLogin what="search your conversations">
      <MessageSearch />
    </RequireLogin>
  );
}

function MessageSearch() {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const q = (params.get('q') ?? '').trim();
  const page = Math.max(0, Number(params.get('page')) || 0);
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);
  const results = useResource(q ? (signal) => api.searchMyMessages({ q, page, size: PAGE_SIZE }, signal) : null, [q, page]);
  const details = results.error instanceof ApiError ? results.error.details : {};

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    setParams(text ? { q: text } : {});
  };

  return (
    <section className="message-search" aria-labelledby="message-search-heading">
      <h1 id="message-search-heading">Search your messages</h1>
      <form className="inline-form" role="search" onSubmit={submit}>
        <div className="field grow">
          <label htmlFor="my-message-query">Words to find in your conversations</label>
          <input
            id="my-message-query"
            type="search"
            value={draft}
            maxLength={SEARCH_QUERY_MAX}
            onChange={(e) => setDraft(e.target.value)}
            aria-invalid={!!details.q?.length || undefined}
            aria-describedby={details.q?.length ? fieldErrorId('q') : undefined}
            data-testid="my-message-query"
          />
          <FieldError name="q" messages={details.q} />
        </div>
        <button type="submit" disabled={!draft.trim()} data-testid="my-message-search">
          Search
        </button>
      </form>
      {!details.q && <ErrorBanner error={results.error} onRetry={results.reload} />}
      {results.loading && <Loading label="Searching…" />}
      {results.data &&
        (results.data.content.length === 0 ? (
          <Empty>No message matches “{q}”.</Empty>
        ) : (
          <>
            <ol className="search-hits" data-testid="my-message-hits">
              {results.data.content.map((hit) => (
                <li key={`${hit.conversation.id}-${hit.message.id}`} className="card small-card search-hit" data-testid="my-message-hit">
                  <p className="card-meta">
                    <Link to={`/conversations/${hit.conversation.id}?message=${encodeURIComponent(hit.message.id)}`} data-testid="hit-link">
                      {hit.conversation.title || 'Untitled conversation'}
                    </Link>
                    <span className="muted">
                      {speakerName(hit.message.speaker ?? (hit.message.role === 'user' ? { kind: 'user', name: '' } : null))} · message{' '}
                      {hit.position + 1}
                      {hit.message.created_at ? ` · ${formatDateTime(hit.message.created_at)}` : ''}
                    </span>
                  </p>
                  <p className="small">
                    <Snippet text={hit.snippet} />
                  </p>
                </li>
              ))}
            </ol>
            <Pagination
              page={results.data.page}
              noun="message"
              itemCount={results.data.content.length}
              onChange={(next) => setParams({ q, page: String(next) })}
            />
          </>
        ))}
    </section>
  );
}
