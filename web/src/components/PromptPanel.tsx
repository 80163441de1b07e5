/** "Why this answer?": exactly what the model received for an answer (the
 * conversation's owner and staff only). Every text is shown as plain text. */

import { ApiError } from '../lib/api';
import { plural } from '../lib/format';
import { useApi, useResource } from '../lib/session';
import { ErrorBanner, Loading } from './common';

function settingLabel(key: string): string {
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function settingValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function PromptPanel({ conversationId, messageId }: { conversationId: string; messageId: string }) {
  const api = useApi();
  const prompt = useResource((signal) => api.messagePrompt(conversationId, messageId, signal), [conversationId, messageId]);

  if (prompt.loading && !prompt.data) return <Loading label="Loading the prompt…" />;
  if (prompt.error instanceof ApiError && prompt.error.status === 404) {
    return (
      <p className="prompt-panel muted small" data-testid="prompt-missing">
        No prompt was recorded for this answer.
      </p>
    );
  }
  if (!prompt.data) return <ErrorBanner error={prompt.error} onRetry={prompt.reload} />;
  const p = prompt.data;
  return (
    <section className="prompt-panel" aria-label="Why this answer?" data-testid="prompt-panel">
      <dl className="prompt-facts">
        <div>
          <dt>Model</dt>
          <dd data-testid="prompt-model">
            {p.model}
            {p.provider ? ` (${p.provider})` : ''}
          </dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{p.attempt}</dd>
        </div>
        <div>
          <dt>Prompt</dt>
          <dd>{plural(p.prompt_tokens, 'token')}</dd>
        </div>
        {Object.entries(p.settings ?? {}).map(([key, value]) => (
          <div key={key} data-testid="prompt-setting">
            <dt>{settingLabel(key)}</dt>
            <dd>{settingValue(value)}</dd>
          </div>
        ))}
      </dl>
      {p.truncated && <p className="muted small">Some texts were cut to keep this record short.</p>}
      {p.lore && p.lore.length > 0 && (
        <>
          <h3 className="h-small">Lore that fired</h3>
          <ul className="prompt-lore">
            {p.lore.map((entry, i) => (
              <li key={i} data-testid="prompt-lore">
                <details>
                  <summary>
                    <span data-testid="prompt-lore-name">{entry.name || 'An entry'}</span>
                    {entry.book ? <span className="muted"> · {entry.book}</span> : null}
                    {entry.reason ? <span className="small muted" data-testid="prompt-lore-reason"> · {entry.reason}</span> : null}
                  </summary>
                  <pre className="plain-text">{entry.content}</pre>
                </details>
              </li>
            ))}
          </ul>
        </>
      )}
      <h3 className="h-small">Sections</h3>
      <ul className="prompt-sections">
        {p.sections.map((section, i) => (
          <li key={`${section.name}-${i}`}>
            <details data-testid="prompt-section">
              <summary>
                {section.name} · {plural(section.tokens, 'token')}
              </summary>
              <pre className="plain-text">{section.text}</pre>
            </details>
          </li>
        ))}
      </ul>
      <h3 className="h-small">What the model received, in order</h3>
      <ol className="prompt-messages">
        {p.messages.map((m, i) => (
          <li key={i} data-testid="prompt-message" data-role={m.role}>
            <p className="small muted">{m.role}</p>
            <pre className="plain-text">{m.content}</pre>
          </li>
        ))}
      </ol>
    </section>
  );
}
