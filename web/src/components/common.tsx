import { useMemo, type ReactNode } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { ApiError, errorMessage } from '../lib/api';
import { pageCount, resultCount } from '../lib/format';
import { renderMarkdown } from '../lib/markdown';
import type { PageInfo } from '../lib/types';

/** An error in plain words, announced to screen readers. */
export function ErrorBanner({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner" data-code={api?.code}>
      <p>{errorMessage(error)}</p>
      {api?.status === 401 && <LoginLink />}
      {onRetry && (
        <button type="button" className="secondary" onClick={onRetry}>
          Try again
        </button>
      )}
      {api?.traceId && <p className="trace">Reference: {api.traceId}</p>}
    </div>
  );
}

function LoginLink() {
  const location = useLocation();
  return (
    <p>
      <Link to="/login" state={{ from: `${location.pathname}${location.search}` }}>
        Log in
      </Link>{' '}
      to continue.
    </p>
  );
}

export function fieldErrorId(name: string): string {
  return `field-error-${name.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
}

/** Messages under a field; the field points here with aria-describedby. */
export function FieldError({ name, messages }: { name: string; messages?: string[] }) {
  if (!messages || messages.length === 0) return null;
  return (
    <div className="field-error" id={fieldErrorId(name)} data-testid={`field-error-${name}`} role="alert">
      {messages.map((m, i) => (
        <p key={i}>{m}</p>
      ))}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function Markdown({ text, className, testId }: { text: string; className?: string; testId?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className={`markdown ${className ?? ''}`} data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />;
}

export function Pagination({
  page,
  onChange,
  noun = 'result',
  itemCount,
}: {
  page: PageInfo | undefined;
  onChange: (page: number) => void;
  noun?: string;
  /** Items on this page: with an estimated total, a full page means there may be more. */
  itemCount?: number;
}) {
  if (!page) return null;
  const counted = Math.max(page.total_pages - 1, 0);
  const last = page.total_is_estimate && itemCount !== undefined && itemCount >= page.size ? Math.max(counted, page.number + 1) : counted;
  return (
    <nav className="pagination" aria-label="Pages">
      <button type="button" className="secondary" disabled={page.number <= 0} onClick={() => onChange(page.number - 1)}>
        ← Previous
      </button>
      <span aria-live="polite">
        Page {page.number + 1} of {pageCount(page)} · {resultCount(page, noun)}
      </span>
      <button type="button" className="secondary" disabled={page.number >= last} onClick={() => onChange(page.number + 1)}>
        Next →
      </button>
    </nav>
  );
}

export function Avatar({ url, name, size = 40 }: { url: string | null | undefined; name: string; size?: number }) {
  if (url) return <img className="avatar" src={url} alt="" width={size} height={size} />;
  return (
    <span className="avatar avatar-initial" aria-hidden="true" style={{ width: size, height: size, lineHeight: `${size}px` }}>
      {(name[0] ?? '?').toUpperCase()}
    </span>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function UserLink({ username }: { username: string }) {
  return <Link to={`/users/${encodeURIComponent(username)}`}>@{username}</Link>;
}
