/** The owner chooses which of their lorebooks a conversation reads (in
 * order, at most five): entries whose keys appear in recent messages join
 * the prompt, and "Why this answer?" shows which fired. */

import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError } from '../lib/api';
import { plural } from '../lib/format';
import { useApi, useResource } from '../lib/session';
import { ErrorBanner, FieldError, Loading } from './common';

export const MAX_LINKED_LOREBOOKS = 5;

export function LorebookLinks({ conversationId }: { conversationId: string }) {
  const api = useApi();
  const links = useResource((signal) => api.conversationLorebooks(conversationId, signal), [conversationId]);
  const books = useResource((signal) => api.lorebooks({ page: 0, size: 100 }, signal), []);
  const [chosen, setChosen] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');

  useEffect(() => {
    if (links.data) setChosen(links.data.lorebook_ids);
  }, [links.data]);

  const toggle = (id: string, on: boolean) => {
    setStatus('');
    setError(null);
    setChosen((all) => (on ? [...all.filter((x) => x !== id), id] : all.filter((x) => x !== id)));
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      links.setData(await api.setConversationLorebooks(conversationId, chosen));
      setStatus('Saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const details = error instanceof ApiError ? error.details : {};
  const fieldMessages = Object.entries(details)
    .filter(([key]) => key === 'lorebook_ids' || key.startsWith('lorebook_ids.'))
    .flatMap(([, messages]) => messages);

  if ((links.loading && !links.data) || (books.loading && !books.data)) return <Loading />;
  if (!links.data) return <ErrorBanner error={links.error} onRetry={links.reload} />;
  if (!books.data) return <ErrorBanner error={books.error} onRetry={books.reload} />;
  const all = books.data.content;
  return (
    <section className="card small-card" id="lorebook-links" aria-label="Lorebooks" data-testid="lorebook-links">
      {all.length === 0 ? (
        <p className="small muted">
          You have no lorebooks yet. <Link to="/library?tab=lorebooks">Import one</Link> in your library.
        </p>
      ) : (
        <fieldset className="field">
          <legend className="small">Read by this conversation (at most {MAX_LINKED_LOREBOOKS}, in the order chosen)</legend>
          {all.map((book) => {
            const on = chosen.includes(book.id);
            return (
              <div key={book.id} className="field checkbox">
                <input
                  id={`lorebook-link-${book.id}`}
                  type="checkbox"
                  checked={on}
                  disabled={!on && chosen.length >= MAX_LINKED_LOREBOOKS}
                  onChange={(e) => toggle(book.id, e.target.checked)}
                  data-testid="lorebook-link"
                />
                <label htmlFor={`lorebook-link-${book.id}`}>
                  {book.name} <span className="small muted">({plural(book.entry_count, 'entry', 'entries')})</span>
                </label>
              </div>
            );
          })}
        </fieldset>
      )}
      <FieldError name="lorebook_ids" messages={fieldMessages.length ? fieldMessages : undefined} />
      {!fieldMessages.length && <ErrorBanner error={error} />}
      {all.length > 0 && (
        <div className="actions">
          <button type="button" onClick={() => void save()} disabled={busy} data-testid="lorebook-links-save">
            {busy ? 'Saving…' : 'Save lorebooks'}
          </button>
          <span role="status" className="small muted">
            {status}
          </span>
        </div>
      )}
    </section>
  );
}
