import { Link } from 'react-router-dom';
import { formatDate, percent, plural } from '../lib/format';
import { summarize, typeLabel } from '../lib/scenarioSchema';
import type { ConversationListItem, ScenarioParameters, UserRef } from '../lib/types';
import { UserLink } from './common';
import { VisibilityBadge } from './Visibility';

export interface ScenarioLike {
  id: string;
  base_story: string;
  scenario_type: string;
  parameters: ScenarioParameters;
  quality_score: number;
  fork_count: number;
  conversation_count: number;
  created_at: string;
  creator?: UserRef;
  relevance_score?: number | null;
}

export function TypeBadge({ type }: { type: string }) {
  return <span className={`badge type-${type.toLowerCase()}`}>{typeLabel(type)}</span>;
}

export function ScenarioCard({ scenario }: { scenario: ScenarioLike }) {
  return (
    <li className="card scenario-card" data-testid="scenario-card" data-id={scenario.id}>
      <div className="card-meta">
        <TypeBadge type={scenario.scenario_type} />
        <span className="muted">{scenario.base_story}</span>
      </div>
      <h3>
        <Link to={`/scenarios/${scenario.id}`}>{summarize(scenario.scenario_type, scenario.parameters)}</Link>
      </h3>
      <p className="muted small">
        Quality {percent(scenario.quality_score)} · {plural(scenario.fork_count, 'fork')} · {plural(scenario.conversation_count, 'conversation')}
        {typeof scenario.relevance_score === 'number' && <> · relevance {scenario.relevance_score.toFixed(2)}</>}
        {scenario.creator && (
          <>
            {' '}
            · by <UserLink username={scenario.creator.username} />
          </>
        )}{' '}
        · {formatDate(scenario.created_at)}
      </p>
    </li>
  );
}

export function ScenarioList({ items }: { items: ScenarioLike[] }) {
  return (
    <ul className="card-list">
      {items.map((s) => (
        <ScenarioCard key={s.id} scenario={s} />
      ))}
    </ul>
  );
}

export function ConversationList({ items, showLiked }: { items: ConversationListItem[]; showLiked?: boolean }) {
  return (
    <ul className="card-list">
      {items.map((c) => (
        <li key={c.id} className="card conversation-card" data-testid="conversation-card" data-id={c.id}>
          <h3>
            <Link to={`/conversations/${c.id}`}>{c.title}</Link>
          </h3>
          <p className="muted small">
            {c.is_fork && <span className="badge">Fork</span>}{' '}
            {c.visibility && c.visibility !== 'public' && (
              <>
                <VisibilityBadge visibility={c.visibility} />{' '}
              </>
            )}
            <UserLink username={c.user.username} /> · {plural(c.message_count, 'message')} ·{' '}
            {plural(c.like_count, 'like')} · {c.scenario.base_story} ({typeLabel(c.scenario.scenario_type)}) ·{' '}
            {showLiked && c.liked_at ? `liked ${formatDate(c.liked_at)}` : `updated ${formatDate(c.updated_at)}`}
          </p>
        </li>
      ))}
    </ul>
  );
}
