/** One form per scenario type, built from the shared-contracts schema, for
 * creating a what-if (with its base story) and for forking one. */

import { useId, useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import {
  BASE_STORY_MAX,
  SCENARIO_TYPES,
  TYPE_SPECS,
  buildParameters,
  checkBaseStory,
  emptyValues,
  mapServerErrors,
  optionLabel,
  valuesFromParameters,
  type FieldErrors,
  type FieldSpec,
  type FormValues,
} from '../lib/scenarioSchema';
import type { Novel, ScenarioParameters, ScenarioType } from '../lib/types';
import { ErrorBanner, FieldError, fieldErrorId } from './common';

// -- the fields of one type ---------------------------------------------------------------

export function ParameterFields({
  type,
  values,
  errors,
  onChange,
  disabled,
}: {
  type: ScenarioType;
  values: FormValues;
  errors: FieldErrors;
  onChange: (name: string, value: string | string[]) => void;
  disabled?: boolean;
}) {
  return (
    <div className="parameter-fields" data-scenario-type={type}>
      {TYPE_SPECS[type].fields.map((field) => (
        <Field key={field.name} field={field} value={values[field.name]} errors={errors[field.name]} onChange={onChange} disabled={disabled} />
      ))}
    </div>
  );
}

function Field({
  field,
  value,
  errors,
  onChange,
  disabled,
}: {
  field: FieldSpec;
  value: string | string[] | undefined;
  errors: string[] | undefined;
  onChange: (name: string, value: string | string[]) => void;
  disabled?: boolean;
}) {
  const id = `param-${field.name}`;
  const invalid = !!errors?.length;
  const describedBy = [invalid ? fieldErrorId(field.name) : '', field.help ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
  const label = (
    <label htmlFor={id}>
      {field.label}
      {field.required ? <span aria-hidden="true"> *</span> : <span className="optional"> (optional)</span>}
    </label>
  );
  if (field.kind === 'list') {
    return <ListField field={field} items={Array.isArray(value) ? value : []} errors={errors} onChange={onChange} disabled={disabled} />;
  }
  const text = typeof value === 'string' ? value : '';
  return (
    <div className="field">
      {label}
      {field.help && (
        <p className="help" id={`${id}-help`}>
          {field.help}
        </p>
      )}
      {field.kind === 'choice' ? (
        <select
          id={id}
          name={field.name}
          value={text}
          required={field.required}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          disabled={disabled}
          onChange={(e) => onChange(field.name, e.target.value)}
        >
          <option value="">Choose…</option>
          {field.options!.map((option) => (
            <option key={option} value={option}>
              {optionLabel(option)}
            </option>
          ))}
        </select>
      ) : field.kind === 'name' ? (
        <input
          id={id}
          name={field.name}
          type="text"
          value={text}
          maxLength={field.maxLength}
          required={field.required}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          disabled={disabled}
          onChange={(e) => onChange(field.name, e.target.value)}
        />
      ) : (
        <>
          <textarea
            id={id}
            name={field.name}
            value={text}
            rows={3}
            maxLength={field.maxLength}
            required={field.required}
            aria-invalid={invalid || undefined}
            aria-describedby={describedBy}
            disabled={disabled}
            onChange={(e) => onChange(field.name, e.target.value)}
          />
          <span className="counter" aria-hidden="true">
            {text.length} / {field.maxLength}
          </span>
        </>
      )}
      <FieldError name={field.name} messages={errors} />
    </div>
  );
}

function ListField({
  field,
  items,
  errors,
  onChange,
  disabled,
}: {
  field: FieldSpec;
  items: string[];
  errors: string[] | undefined;
  onChange: (name: string, value: string[]) => void;
  disabled?: boolean;
}) {
  const max = field.maxItems ?? Infinity;
  const itemKind = field.item ?? 'text';
  const set = (index: number, text: string) => onChange(field.name, items.map((v, i) => (i === index ? text : v)));
  const full = items.length >= max;
  return (
    <fieldset className="field list-field" aria-describedby={errors?.length ? fieldErrorId(field.name) : undefined}>
      <legend>
        {field.label} <span className="optional">(optional, at most {max})</span>
      </legend>
      {items.map((item, index) => {
        const id = `param-${field.name}-${index}`;
        return (
          <div className="list-item" key={index}>
            <label htmlFor={id} className="visually-hidden">
              {field.label} {index + 1}
            </label>
            {itemKind === 'name' ? (
              <input id={id} type="text" value={item} maxLength={field.maxLength} disabled={disabled} onChange={(e) => set(index, e.target.value)} />
            ) : (
              <textarea id={id} rows={2} value={item} maxLength={field.maxLength} disabled={disabled} onChange={(e) => set(index, e.target.value)} />
            )}
            <button
              type="button"
              className="secondary small"
              disabled={disabled}
              onClick={() => onChange(field.name, items.filter((_, i) => i !== index))}
              aria-label={`Remove ${field.label.toLowerCase()} ${index + 1}`}
            >
              Remove
            </button>
          </div>
        );
      })}
      <button
        type="button"
        className="secondary small"
        disabled={disabled || full}
        onClick={() => onChange(field.name, [...items, ''])}
        data-testid={`add-${field.name}`}
      >
        Add {itemKind === 'name' ? 'a name' : 'one'}
      </button>
      <span className="counter">
        {items.length} / {max}
      </span>
      <FieldError name={field.name} messages={errors} />
    </fieldset>
  );
}

// -- the whole form ---------------------------------------------------------------------------

export interface ScenarioSubmit {
  base_story: string;
  scenario_type: ScenarioType;
  parameters: ScenarioParameters;
}

export interface ScenarioFormProps {
  mode: 'create' | 'fork';
  /** create: the stories to choose from (free text slug otherwise). */
  novels?: Novel[];
  initialBaseStory?: string;
  initialType?: ScenarioType;
  /** fork: the parent, whose parameters prefill the form of its type. */
  parent?: { scenario_type: ScenarioType; parameters: ScenarioParameters; base_story: string };
  submitLabel?: string;
  onSubmit: (value: ScenarioSubmit) => Promise<void>;
  onCancel?: () => void;
}

const OTHER = '__other__';

export function ScenarioForm({ mode, novels = [], initialBaseStory = '', initialType, parent, submitLabel, onSubmit, onCancel }: ScenarioFormProps) {
  const formId = useId();
  const startType = parent?.scenario_type ?? initialType ?? 'CHARACTER_CHANGE';
  const [type, setType] = useState<ScenarioType>(startType);
  const [valuesByType, setValuesByType] = useState<Partial<Record<ScenarioType, FormValues>>>(() =>
    parent ? { [parent.scenario_type]: valuesFromParameters(parent.scenario_type, parent.parameters) } : {},
  );
  const knownSlug = novels.some((n) => n.slug === initialBaseStory);
  const [storyChoice, setStoryChoice] = useState<string>(initialBaseStory && !knownSlug ? OTHER : initialBaseStory);
  const [otherStory, setOtherStory] = useState<string>(knownSlug ? '' : initialBaseStory);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const values = valuesByType[type] ?? emptyValues(type);
  const baseStory = mode === 'fork' ? (parent?.base_story ?? '') : storyChoice === OTHER || novels.length === 0 ? otherStory.trim() : storyChoice;
  const showOther = storyChoice === OTHER || novels.length === 0;

  const change = (name: string, value: string | string[]) => {
    setValuesByType((all) => ({ ...all, [type]: { ...(all[type] ?? emptyValues(type)), [name]: value } }));
    if (errors[name]) setErrors(({ [name]: _, ...rest }) => rest);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const { parameters, errors: found } = buildParameters(type, values);
    if (mode === 'create') {
      const problem = checkBaseStory(baseStory);
      if (problem) found.base_story = [problem];
    }
    setErrors(found);
    if (Object.keys(found).length) {
      setError(new ApiError({ status: 0, code: 'CLIENT_VALIDATION', message: 'Please fix the highlighted fields.' }));
      return;
    }
    setBusy(true);
    try {
      await onSubmit({ base_story: baseStory, scenario_type: type, parameters });
    } catch (err) {
      if (err instanceof ApiError) setErrors(mapServerErrors(type, err.details));
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="scenario-form" onSubmit={submit} noValidate aria-describedby={error ? `${formId}-error` : undefined}>
      {mode === 'create' && (
        <fieldset className="field">
          <legend>Base story</legend>
          {novels.length > 0 && (
            <>
              <label htmlFor={`${formId}-story`}>Story</label>
              <select
                id={`${formId}-story`}
                value={storyChoice}
                onChange={(e) => {
                  setStoryChoice(e.target.value);
                  setErrors(({ base_story: _, ...rest }) => rest);
                }}
                aria-describedby={errors.base_story ? fieldErrorId('base_story') : undefined}
                aria-invalid={!!errors.base_story || undefined}
              >
                <option value="">Choose a story…</option>
                {novels.map((n) => (
                  <option key={n.id} value={n.slug}>
                    {n.title}
                    {n.author ? ` — ${n.author}` : ''}
                  </option>
                ))}
                <option value={OTHER}>Another story (type its slug)</option>
              </select>
            </>
          )}
          {showOther && (
            <>
              <label htmlFor={`${formId}-slug`}>Story slug</label>
              <input
                id={`${formId}-slug`}
                type="text"
                value={otherStory}
                maxLength={BASE_STORY_MAX}
                placeholder="e.g. the-great-gatsby"
                autoCapitalize="none"
                spellCheck={false}
                aria-describedby={errors.base_story ? fieldErrorId('base_story') : undefined}
                aria-invalid={!!errors.base_story || undefined}
                onChange={(e) => {
                  setOtherStory(e.target.value);
                  setErrors(({ base_story: _, ...rest }) => rest);
                }}
              />
            </>
          )}
          <FieldError name="base_story" messages={errors.base_story} />
        </fieldset>
      )}

      <fieldset className="field type-picker">
        <legend>Kind of what-if</legend>
        {SCENARIO_TYPES.map((spec) => (
          <label key={spec.type} className="radio-card">
            <input
              type="radio"
              name={`${formId}-type`}
              value={spec.type}
              checked={type === spec.type}
              onChange={() => {
                setType(spec.type);
                setErrors({});
              }}
            />
            <span>
              <strong>{spec.label}</strong>
              <span className="help">{spec.description}</span>
            </span>
          </label>
        ))}
        <FieldError name="scenario_type" messages={errors.scenario_type} />
      </fieldset>

      <ParameterFields type={type} values={values} errors={errors} onChange={change} disabled={busy} />
      <FieldError name="parameters" messages={errors.parameters} />

      <div id={`${formId}-error`}>
        <ErrorBanner error={error} />
      </div>
      <div className="actions">
        <button type="submit" disabled={busy} data-testid={mode === 'fork' ? 'fork-submit' : 'scenario-submit'}>
          {busy ? 'Saving…' : (submitLabel ?? (mode === 'fork' ? 'Create fork' : 'Create what-if'))}
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
