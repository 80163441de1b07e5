import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Empty, ErrorBanner, Loading, Pagination } from '../components/common';
import { RequireLogin } from '../components/Layout';
import { ConversationList, ScenarioList } from '../components/ScenarioCard';
import { useApi, useResource, useSession } from '../lib/session';

export function HomePage() {
  const api = useApi();
  const { user } = useSession();
  const top = useResource((signal) => api.scenarios({ sort: 'quality_score,desc', size: 6 }, signal), []);
  const recent = useResource((signal) => api.conversations({ sort: 'updated_at,desc', size: 5 }, signal), []);
  return (
    <>
      <section className="hero">
        <h1>What if the story went another way?</h1>
        <p>
          Change a character, an event or the world of a classic novel, then talk with its people as the story bends. Fork anyone’s what-if and
          take it further.
        </p>
        <p className="actions">
          <Link className="button" to="/scenarios/new">
            Create a what-if
          </Link>
          <Link className="button secondary" to="/novels">
            Browse novels
          </Link>
          {!user && (
            <Link className="button secondary" to="/register">
              Register
            </Link>
          )}
        </p>
      </section>
      <section aria-labelledby="top-heading">
        <h2 id="top-heading">Best what-ifs</h2>
        <ErrorBanner error={top.error} onRetry={top.reload} />
        {top.loading && <Loading />}
        {top.data && (top.data.content.length ? <ScenarioList items={top.data.content} /> : <Empty>No what-ifs yet.</Empty>)}
        <p>
          <Link to="/scenarios">All scenarios →</Link>
        </p>
      </section>
      <section aria-labelledby="recent-heading">
        <h2 id="recent-heading">Recent conversations</h2>
        <ErrorBanner error={recent.error} onRetry={recent.reload} />
        {recent.loading && <Loading />}
        {recent.data && (recent.data.content.length ? <ConversationList items={recent.data.content} /> : <Empty>No conversations yet.</Empty>)}
      </section>
    </>
  );
}

export function LikedPage() {
  return (
    <RequireLogin what="see the conversations you liked">
      <Liked />
    </RequireLogin>
  );
}

function Liked() {
  const api = useApi();
  const [page, setPage] = useState(0);
  const list = useResource((signal) => api.likedConversations({ page, size: 20 }, signal), [page]);
  return (
    <section>
      <h1>Conversations you liked</h1>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading />}
      {list.data &&
        (list.data.content.length === 0 ? (
          <Empty>You have not liked any conversation yet.</Empty>
        ) : (
          <>
            <ConversationList items={list.data.content} showLiked />
            <Pagination page={list.data.page} onChange={setPage} noun="conversation" />
          </>
        ))}
    </section>
  );
}

export function NotFoundPage() {
  return (
    <section className="card">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the start</Link>
      </p>
    </section>
  );
}
