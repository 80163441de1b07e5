import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, Pagination, UserLink, fieldErrorId } from '../components/common';
import { ConversationImportForm } from '../components/ConversationImport';
import { ForkTree } from '../components/ForkTree';
import { RequireLogin } from '../components/Layout';
import { ConversationList, ScenarioList, TypeBadge } from '../components/ScenarioCard';
import { ScenarioForm } from '../components/ScenarioForm';
import { BriefText, TimelineSteps } from '../components/Timeline';
import { VisibilitySelect } from '../components/Visibility';
import { ApiError } from '../lib/api';
import { formatDate, percent, plural } from '../lib/format';
import { TYPE_SPECS, optionLabel, summarize, typeLabel } from '../lib/scenarioSchema';
import { useApi, useResource, useSession } from '../lib/session';
import type { Scenario, ScenarioType, Visibility } from '../lib/types';

export function ScenarioCreatePage() {
  return (
    <RequireLogin what="create a what-if">
      <ScenarioCreate />
    </RequireLogin>
  );
}

function ScenarioCreate() {
  const api = useApi();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const novels = useResource((signal) => api.novels({ size: 100 }, signal), []);
  const initialType = params.get('type') as ScenarioType | null;
  if (novels.loading) return <Loading />;
  return (
    <section className="card">
      <h1>Create a what-if</h1>
      <p className="muted">Pick a story, the kind of change, then describe it.</p>
      <ScenarioForm
        mode="create"
        novels={novels.data?.content ?? []}
        initialBaseStory={params.get('base_story') ?? ''}
        initialType={initialType && initialType in TYPE_SPECS ? initialType : undefined}
        onSubmit={async (value) => {
          const created = await api.createScenario(value);
          navigate(`/scenarios/${created.id}`);
        }}
      />
    </section>
  );
}

function ParametersView({ scenario }: { scenario: Pick<Scenario, 'scenario_type' | 'parameters'> }) {
  const spec = TYPE_SPECS[scenario.scenario_type];
  const p = scenario.parameters ?? {};
  return (
    <dl className="parameters" data-testid="scenario-parameters">
      {(spec?.fields ?? []).map((field) => {
        const value = p[field.name];
        if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return null;
        return (
          <div key={field.name} className="parameter">
            <dt>{field.label}</dt>
            <dd>
              {Array.isArray(value) ? (
                <ul>
                  {value.map((v, i) => (
                    <li key={i}>{String(v)}</li>
                  ))}
                </ul>
              ) : field.kind === 'choice' ? (
                optionLabel(String(value))
              ) : (
                String(value)
              )}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

export function ScenarioDetailPage() {
  const { id = '' } = useParams();
  const api = useApi();
  const { user } = useSession();
  const navigate = useNavigate();
  const scenario = useResource((signal) => api.scenario(id, signal), [id]);
  const ancestors = useResource((signal) => api.ancestors(id, signal), [id]);
  const [forking, setForking] = useState(false);

  if (scenario.loading && !scenario.data) return <Loading />;
  if (!scenario.data) return <ErrorBanner error={scenario.error} onRetry={scenario.reload} />;
  const s = scenario.data;
  const path = ancestors.data?.path ?? [];
  const rootId = path[0]?.id ?? s.id;

  return (
    <article className="scenario-detail" data-testid="scenario-detail" data-id={s.id}>
      {path.length > 1 && (
        <nav aria-label="Ancestors" className="breadcrumb" data-testid="ancestors">
          <ol>
            {path.map((a) => (
              <li key={a.id}>
                {a.id === s.id ? (
                  <span aria-current="page">{summarizeShort(a.scenario_type, a.parameters)}</span>
                ) : a.is_deleted ? (
                  <span className="muted">Deleted scenario</span>
                ) : (
                  <Link to={`/scenarios/${a.id}`}>{summarizeShort(a.scenario_type, a.parameters)}</Link>
                )}
              </li>
            ))}
          </ol>
        </nav>
      )}
      <header className="page-header">
        <p className="card-meta">
          <TypeBadge type={s.scenario_type} />{' '}
          {s.novel_id ? <Link to={`/novels/${encodeURIComponent(s.base_story)}`}>{s.base_story}</Link> : <span>{s.base_story}</span>}
        </p>
        <h1>{summarize(s.scenario_type, s.parameters)}</h1>
        <p className="muted small">
          by <UserLink username={s.creator.username} /> · {formatDate(s.created_at)} · quality {percent(s.quality_score)} · {plural(s.fork_count, 'fork')} ·{' '}
          {plural(s.conversation_count, 'conversation')}
        </p>
        {s.parent && (
          <p>
            Forked from{' '}
            {s.parent.is_deleted ? (
              <span className="muted">a deleted scenario</span>
            ) : (
              <Link to={`/scenarios/${s.parent.id}`} data-testid="parent-link">
                its parent scenario
              </Link>
            )}
          </p>
        )}
      </header>

      <section aria-labelledby="params-heading" className="card">
        <h2 id="params-heading">The what-if</h2>
        <p className="muted small">{typeLabel(s.scenario_type)}: {TYPE_SPECS[s.scenario_type]?.description}</p>
        <ParametersView scenario={s} />
      </section>

      <TimelineSection scenarioId={s.id} />

      <section aria-labelledby="talk-heading" className="card">
        <h2 id="talk-heading">Talk to this story</h2>
        {user ? <StartConversation scenarioId={s.id} /> : <LoginPrompt what="start a conversation" />}
        {user && (
          <details className="import-details">
            <summary data-testid="conversation-import-open">Or import a conversation file (Gaji JSON or SillyTavern JSONL)</summary>
            <ConversationImportForm scenarioId={s.id} />
          </details>
        )}
      </section>

      <section aria-labelledby="fork-heading" className="card">
        <h2 id="fork-heading">Fork it</h2>
        <p className="muted small">A fork keeps the story and builds on this what-if; it may change its kind.</p>
        {!user ? (
          <LoginPrompt what="fork this what-if" />
        ) : forking ? (
          <ScenarioForm
            mode="fork"
            parent={s}
            onCancel={() => setForking(false)}
            onSubmit={async (value) => {
              const fork = await api.forkScenario(s.id, { scenario_type: value.scenario_type, parameters: value.parameters });
              setForking(false);
              navigate(`/scenarios/${fork.id}`);
            }}
          />
        ) : (
          <button type="button" onClick={() => setForking(true)} data-testid="fork-button">
            Fork this what-if
          </button>
        )}
      </section>

      <TreeSection scenarioId={s.id} rootId={rootId} />
      <ForksSection scenarioId={s.id} />
      <ConversationsSection scenarioId={s.id} />
    </article>
  );
}

function summarizeShort(type: string | undefined, parameters: Record<string, unknown> | undefined): string {
  const text = summarize(type, parameters);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

function LoginPrompt({ what }: { what: string }) {
  const location = useLocation();
  return (
    <p>
      <Link to="/login" state={{ from: `${location.pathname}${location.search}` }}>
        Log in
      </Link>{' '}
      to {what}.
    </p>
  );
}

function StartConversation({ scenarioId }: { scenarioId: string }) {
  const api = useApi();
  const navigate = useNavigate();
  const [title, setTitle] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [visibility, setVisibility] = useState<Visibility | ''>('');
  const titleErrors = error instanceof ApiError ? error.details.title : undefined;
  const visibilityErrors = error instanceof ApiError ? error.details.visibility : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Without a choice the server applies the reader's default visibility.
      const conversation = await api.createConversation({
        scenario_id: scenarioId,
        ...(title.trim() ? { title: title.trim() } : {}),
        ...(visibility ? { visibility } : {}),
      });
      navigate(`/conversations/${conversation.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="inline-form" onSubmit={submit}>
      <div className="field grow">
        <label htmlFor="conv-title">Title (optional)</label>
        <input
          id="conv-title"
          type="text"
          value={title}
          maxLength={200}
          onChange={(e) => setTitle(e.target.value)}
          aria-describedby={titleErrors ? fieldErrorId('title') : undefined}
        />
        <FieldError name="title" messages={titleErrors} />
      </div>
      <VisibilitySelect
        id="conv-visibility"
        label="Who can see it"
        value={visibility}
        onChange={setVisibility}
        defaultLabel="As in my settings"
        disabled={busy}
        errors={visibilityErrors}
        testId="conv-visibility"
      />
      <button type="submit" disabled={busy} data-testid="start-conversation">
        {busy ? 'Starting…' : 'Start a conversation'}
      </button>
      <ErrorBanner error={error} />
    </form>
  );
}

/** Every change from the novel down to this scenario, and the brief the model is told. */
function TimelineSection({ scenarioId }: { scenarioId: string }) {
  const api = useApi();
  const timeline = useResource((signal) => api.timeline(scenarioId, signal), [scenarioId]);
  return (
    <section aria-labelledby="timeline-heading" className="card" data-testid="timeline">
      <h2 id="timeline-heading">Timeline</h2>
      <ErrorBanner error={timeline.error} onRetry={timeline.reload} />
      {timeline.loading && !timeline.data && <Loading />}
      {timeline.data && (
        <>
          <TimelineSteps timeline={timeline.data} currentId={scenarioId} />
          <h3 id="brief-heading">What the model is told</h3>
          <BriefText timeline={timeline.data} />
        </>
      )}
    </section>
  );
}

function TreeSection({ scenarioId, rootId }: { scenarioId: string; rootId: string }) {
  const api = useApi();
  const navigate = useNavigate();
  const [depth, setDepth] = useState(5);
  const [fromRoot, setFromRoot] = useState(false);
  const treeRoot = fromRoot ? rootId : scenarioId;
  const tree = useResource((signal) => api.forkTree(treeRoot, depth, signal), [treeRoot, depth]);

  return (
    <section aria-labelledby="tree-heading" className="card">
      <h2 id="tree-heading">Fork tree</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="tree-depth">Depth</label>
          <select id="tree-depth" value={depth} onChange={(e) => setDepth(Number(e.target.value))}>
            {[1, 2, 3, 5, 10, 20, 50].map((d) => (
              <option key={d} value={d}>
                {d} {d === 1 ? 'level' : 'levels'}
              </option>
            ))}
          </select>
        </div>
        {rootId !== scenarioId && (
          <div className="field checkbox">
            <input id="tree-root" type="checkbox" checked={fromRoot} onChange={(e) => setFromRoot(e.target.checked)} />
            <label htmlFor="tree-root">Show the whole tree from its root</label>
          </div>
        )}
      </div>
      <ErrorBanner error={tree.error} onRetry={tree.reload} />
      {tree.loading && !tree.data && <Loading />}
      {tree.data && (
        <>
          <p className="muted small">
            {plural(tree.data.total_descendants ?? 0, 'descendant')} · {tree.data.depth ?? 0} {tree.data.depth === 1 ? 'level' : 'levels'} deep
          </p>
          <ForkTree root={tree.data} currentId={scenarioId} onOpen={(id) => navigate(`/scenarios/${id}`)} />
        </>
      )}
    </section>
  );
}

function ForksSection({ scenarioId }: { scenarioId: string }) {
  const api = useApi();
  const [page, setPage] = useState(0);
  const forks = useResource((signal) => api.forks(scenarioId, { page, size: 10 }, signal), [scenarioId, page]);
  return (
    <section aria-labelledby="forks-heading">
      <h2 id="forks-heading">Direct forks</h2>
      <ErrorBanner error={forks.error} onRetry={forks.reload} />
      {forks.loading && !forks.data && <Loading />}
      {forks.data &&
        (forks.data.forks.length === 0 ? (
          <Empty>No forks yet.</Empty>
        ) : (
          <>
            <ScenarioList items={forks.data.forks} />
            <Pagination page={forks.data.page} onChange={setPage} noun="fork" />
          </>
        ))}
    </section>
  );
}

function ConversationsSection({ scenarioId }: { scenarioId: string }) {
  const api = useApi();
  const [page, setPage] = useState(0);
  const list = useResource((signal) => api.conversations({ scenario_id: scenarioId, page, size: 10 }, signal), [scenarioId, page]);
  return (
    <section aria-labelledby="convs-heading">
      <h2 id="convs-heading">Conversations</h2>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <Loading />}
      {list.data &&
        (list.data.content.length === 0 ? (
          <Empty>No conversations yet.</Empty>
        ) : (
          <>
            <ConversationList items={list.data.content} />
            <Pagination page={list.data.page} onChange={setPage} noun="conversation" />
          </>
        ))}
    </section>
  );
}
