/** Who may see a conversation: the choices in words, a badge, and a select
 * with a one-line explanation of the choice. */

import type { Visibility } from '../lib/types';
import { FieldError, fieldErrorId } from './common';

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
