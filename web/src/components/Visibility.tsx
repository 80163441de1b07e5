/** Who may see a conversation or a story: the choices in words, a badge, a
 * select with a one-line explanation of the choice, and the owner's control
 * that saves a choice at once. */

import { useState, type ReactNode } from 'react';
import { ApiError } from '../lib/api';
import type { Visibility } from '../lib/types';
import { ErrorBanner, FieldError, fieldErrorId } from './common';

export const VISIBILITIES: ReadonlyArray<{ value: Visibility; label: string; help: string }> = [
  { value: 'private', label: 'Private', help: 'Only you can see it.' },
  { value: 'unlisted', label: 'Unlisted', help: 'Anyone with the link can read it; it shows in no list or search.' },
  { value: 'public', label: 'Public', help: 'Everyone can find and read it.' },
];

export function visibilityLabel(value: Visibility | null | undefined): string {
  return VISIBILITIES.find((v) => v.value === value)?.label ?? 'Public';
}

export function visibilityHelp(value: Visibility | null | undefined): string {
  return VISIBILITIES.find((v) => v.value === value)?.help ?? '';
}

export function VisibilityBadge({ visibility }: { visibility: Visibility | null | undefined }) {
  if (!visibility) return null;
  return (
    <span className={`badge visibility-${visibility}`} title={visibilityHelp(visibility)} data-testid="visibility-badge">
      {visibilityLabel(visibility)}
    </span>
  );
}

/** `value` '' is "my default" (the field is then left out of the request),
 * offered only with `defaultLabel`. */
export function VisibilitySelect({
  id,
  label = 'Who can see it',
  value,
  onChange,
  defaultLabel,
  disabled,
  errors,
  errorName = 'visibility',
  testId = 'visibility-select',
}: {
  id: string;
  label?: string;
  value: Visibility | '';
  onChange: (value: Visibility | '') => void;
  defaultLabel?: string;
  disabled?: boolean;
  errors?: string[];
  errorName?: string;
  testId?: string;
}) {
  const helpId = `${id}-help`;
  const invalid = !!errors?.length;
  return (
    <div className="field visibility-field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        disabled={disabled}
        aria-invalid={invalid || undefined}
        aria-describedby={[helpId, invalid ? fieldErrorId(errorName) : ''].filter(Boolean).join(' ')}
        onChange={(e) => onChange(e.target.value as Visibility | '')}
        data-testid={testId}
      >
        {defaultLabel && <option value="">{defaultLabel}</option>}
        {VISIBILITIES.map((v) => (
          <option key={v.value} value={v.value}>
            {v.label}
          </option>
        ))}
      </select>
      <p className="help" id={helpId}>
        {value ? visibilityHelp(value) : 'As set in your settings.'}
      </p>
      <FieldError name={errorName} messages={errors} />
    </div>
  );
}

/** The owner's select, saved as soon as a new choice is made: "Saved." in a
 * status, or the refusal (under the select when it is about the field); then
 * whatever else the owner may do there (`children`, e.g. a delete button). */
export function VisibilityControl({
  id,
  value,
  save,
  className = 'visibility-control',
  testId,
  selectTestId,
  statusTestId,
  errorName,
  children,
}: {
  id: string;
  value: Visibility;
  save: (next: Visibility) => Promise<void>;
  className?: string;
  testId?: string;
  selectTestId?: string;
  statusTestId?: string;
  errorName?: string;
  children?: ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const details = error instanceof ApiError ? error.details : {};

  const change = async (next: Visibility | '') => {
    if (!next || next === value) return;
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      await save(next);
      setStatus('Saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={className} data-testid={testId}>
      <VisibilitySelect
        id={id}
        value={value}
        onChange={(v) => void change(v)}
        disabled={busy}
        errors={details.visibility}
        errorName={errorName}
        testId={selectTestId}
      />
      <span role="status" className="small muted" data-testid={statusTestId}>
        {status}
      </span>
      {!details.visibility && <ErrorBanner error={error} />}
      {children}
    </div>
  );
}
