/** A scenario's timeline: every change from the novel down to it, and the
 * brief the model is told about them. All texts are plain text. */

import { Link } from 'react-router-dom';
import { ApiError } from '../lib/api';
import { plural } from '../lib/format';
import { useApi, useResource } from '../lib/session';
import type { Timeline } from '../lib/types';
import { ErrorBanner, Loading, UserLink } from './common';
import { TypeBadge } from './ScenarioCard';

/** The changes in order, oldest (the root, position 1) first. */
export function TimelineSteps({ timeline, currentId }: { timeline: Timeline; currentId?: string }) {
  const shown = timeline.steps.length;
  return (
    <>
      <p className="muted small" data-testid="timeline-count">
        {plural(timeline.total_steps, 'change')} from the novel to this what-if
        {shown < timeline.total_steps ? ` (showing the first and the latest ${(shown - 1).toLocaleString()})` : ''}
      </p>
      <ol className="timeline" data-testid="timeline-steps">
        {timeline.steps.map((step) => {
          const current = step.scenario_id === currentId;
          return (
            <li
              key={step.scenario_id}
              className={`timeline-step${step.is_deleted ? ' deleted' : ''}`}
              data-testid="timeline-step"
              data-deleted={step.is_deleted}
              aria-current={current ? 'step' : undefined}
            >
              <span className="timeline-position">{step.position}.</span> <TypeBadge type={step.scenario_type} />{' '}
              {current || step.is_deleted ? (
                <span className="timeline-summary">{step.summary}</span>
              ) : (
                <Link to={`/scenarios/${step.scenario_id}`} className="timeline-summary">
                  {step.summary}
                </Link>
              )}{' '}
              <span className="muted small">
                by <UserLink username={step.creator.username} />
              </span>
              {step.is_deleted && (
                <>
                  {' '}
                  <span className="badge" data-testid="timeline-deleted" title="Deleted by its creator; it still shapes the forks below it">
                    deleted
                  </span>
                </>
              )}
              {current && <span className="muted small"> (this what-if)</span>}
            </li>
          );
        })}
      </ol>
    </>
  );
}

/** The timeline exactly as the model is told it, with its size. */
export function BriefText({ timeline }: { timeline: Timeline }) {
  const notes = [`about ${plural(timeline.brief_tokens, 'token')}`];
  if (timeline.condensed_steps > 0) notes.push(`${plural(timeline.condensed_steps, 'older change')} condensed to one line`);
  if (timeline.counted_steps > 0) notes.push(`${plural(timeline.counted_steps, 'change')} only counted`);
  return (
    <>
      <p className="muted small" data-testid="brief-tokens">
        {notes.join(' · ')}
      </p>
      <pre className="plain-text brief" data-testid="brief">
        {timeline.brief}
      </pre>
    </>
  );
}

/** On a conversation: the brief of its scenario, collapsed. */
export function ConversationBrief({ scenarioId }: { scenarioId: string }) {
  const api = useApi();
  const timeline = useResource((signal) => api.timeline(scenarioId, signal), [scenarioId]);
  // A scenario gone (404) has no brief to show.
  if (timeline.error instanceof ApiError && timeline.error.status === 404) return null;
  return (
    <details className="card small-card brief-box" data-testid="conversation-brief">
      <summary>What the model is told about this what-if</summary>
      {timeline.loading && !timeline.data && <Loading />}
      <ErrorBanner error={timeline.error} onRetry={timeline.reload} />
      {timeline.data && <BriefText timeline={timeline.data} />}
    </details>
  );
}
