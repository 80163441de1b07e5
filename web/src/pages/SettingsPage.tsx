/** The reader's chat settings (`#/settings`): what their turns use unless a
 * request says otherwise — model, temperature, answer length, style, the
 * name characters call them — and who sees their new conversations. */

import { useEffect, useState, type FormEvent } from 'react';
import { ErrorBanner, FieldError, Loading, fieldErrorId } from '../components/common';
import { RequireLogin } from '../components/Layout';
import { VisibilitySelect } from '../components/Visibility';
import { ApiError, type FieldErrors } from '../lib/api';
import { useApi, useResource } from '../lib/session';
import type { ResponseStyle, UserSettings, Visibility } from '../lib/types';

export const TEMPERATURE_MIN = 0;
export const TEMPERATURE_MAX = 2;
export const MAX_TOKENS_MIN = 16;
export const MAX_TOKENS_MAX = 1024;
export const PERSONA_MAX = 50;

const STYLES: ReadonlyArray<{ value: ResponseStyle; label: string; help: string }> = [
  { value: 'concise', label: 'Concise', help: 'Short answers, to the point.' },
  { value: 'balanced', label: 'Balanced', help: 'The usual length.' },
  { value: 'detailed', label: 'Detailed', help: 'Longer answers with more description.' },
];

export function SettingsPage() {
  return (
    <RequireLogin what="change your chat settings">
      <Settings />
    </RequireLogin>
  );
}

function Settings() {
  const api = useApi();
  const settings = useResource((signal) => api.settings(signal), []);
  const models = useResource((signal) => api.models(signal), []);
  if (settings.loading && !settings.data) return <Loading />;
  if (!settings.data) return <ErrorBanner error={settings.error} onRetry={settings.reload} />;
  return (
    <article className="settings" data-testid="settings">
      <h1>Chat settings</h1>
      <p className="help">What your conversations use unless you choose otherwise for one message.</p>
      <SettingsForm
        initial={settings.data}
        models={models.data?.models}
        serviceDefault={models.data?.default}
        modelsError={models.error}
        onSaved={(saved) => settings.setData(saved)}
      />
    </article>
  );
}

interface Draft {
  model: string;
  temperatureDefault: boolean;
  temperature: string;
  maxTokensDefault: boolean;
  maxTokens: string;
  style: ResponseStyle;
  persona: string;
  visibility: Visibility;
}

function draftOf(s: UserSettings): Draft {
  return {
    model: s.default_model ?? '',
    temperatureDefault: s.temperature === null,
    temperature: String(s.temperature ?? 1),
    maxTokensDefault: s.max_tokens === null,
    maxTokens: String(s.max_tokens ?? 512),
    style: s.response_style,
    persona: s.persona_name ?? '',
    visibility: s.default_visibility,
  };
}

/** The request body, or the fields the reader must fix first. */
function bodyOf(d: Draft): { body: UserSettings } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const temperature = Number(d.temperature);
  if (!d.temperatureDefault && (d.temperature.trim() === '' || !Number.isFinite(temperature) || temperature < TEMPERATURE_MIN || temperature > TEMPERATURE_MAX)) {
    errors.temperature = [`Between ${TEMPERATURE_MIN} and ${TEMPERATURE_MAX}.`];
  }
  const maxTokens = Number(d.maxTokens);
  if (!d.maxTokensDefault && (!Number.isInteger(maxTokens) || maxTokens < MAX_TOKENS_MIN || maxTokens > MAX_TOKENS_MAX)) {
    errors.max_tokens = [`A whole number from ${MAX_TOKENS_MIN} to ${MAX_TOKENS_MAX}.`];
  }
  if (d.persona.trim().length > PERSONA_MAX) errors.persona_name = [`At most ${PERSONA_MAX} characters.`];
  if (Object.keys(errors).length) return { errors };
  return {
    body: {
      default_model: d.model || null,
      temperature: d.temperatureDefault ? null : temperature,
      max_tokens: d.maxTokensDefault ? null : maxTokens,
      response_style: d.style,
      persona_name: d.persona.trim(),
      default_visibility: d.visibility,
    },
  };
}

function SettingsForm({
  initial,
  models,
  serviceDefault,
  modelsError,
  onSaved,
}: {
  initial: UserSettings;
  models: string[] | undefined;
  serviceDefault: string | undefined;
  modelsError: unknown;
  onSaved: (settings: UserSettings) => void;
}) {
  const api = useApi();
  const [draft, setDraft] = useState<Draft>(() => draftOf(initial));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setDraft(draftOf(initial)), [initial]);

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setStatus('');
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setStatus('');
    const built = bodyOf(draft);
    if ('errors' in built) {
      setErrors(built.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      onSaved(await api.saveSettings(built.body));
      setStatus('Saved');
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const describe = (name: string, help?: string) =>
    [help ?? '', errors[name]?.length ? fieldErrorId(name) : ''].filter(Boolean).join(' ') || undefined;
  const modelChoices = [...(models ?? [])];
  if (draft.model && !modelChoices.includes(draft.model)) modelChoices.unshift(draft.model);

  return (
    <form className="card" onSubmit={submit} noValidate data-testid="settings-form">
      <div className="field">
        <label htmlFor="settings-model">Model</label>
        <select
          id="settings-model"
          value={draft.model}
          onChange={(e) => set('model', e.target.value)}
          aria-invalid={!!errors.default_model?.length || undefined}
          aria-describedby={describe('default_model', 'settings-model-help')}
          data-testid="settings-model"
        >
          <option value="">Service default{serviceDefault ? ` (${serviceDefault})` : ''}</option>
          {modelChoices.map((m) => (
            <option key={m} value={m}>
              {m}
              {models && !models.includes(m) ? ' (no longer offered)' : ''}
            </option>
          ))}
        </select>
        <p className="help" id="settings-model-help">
          {modelsError ? 'The list of models is unavailable right now.' : 'The model that writes the characters’ answers.'}
        </p>
        <FieldError name="default_model" messages={errors.default_model} />
      </div>

      <fieldset className="field" aria-describedby={describe('temperature', 'settings-temperature-help')}>
        <legend>Temperature</legend>
        <div className="field checkbox">
          <input
            id="settings-temperature-default"
            type="checkbox"
            checked={draft.temperatureDefault}
            onChange={(e) => set('temperatureDefault', e.target.checked)}
            data-testid="settings-temperature-default"
          />
          <label htmlFor="settings-temperature-default">Service default</label>
        </div>
        <div className="range-row">
          <input
            type="range"
            min={TEMPERATURE_MIN}
            max={TEMPERATURE_MAX}
            step={0.1}
            value={Number(draft.temperature) || 0}
            disabled={draft.temperatureDefault}
            onChange={(e) => set('temperature', e.target.value)}
            aria-label="Temperature slider"
          />
          <label htmlFor="settings-temperature" className="visually-hidden">
            Temperature
          </label>
          <input
            id="settings-temperature"
            type="number"
            min={TEMPERATURE_MIN}
            max={TEMPERATURE_MAX}
            step={0.1}
            value={draft.temperature}
            disabled={draft.temperatureDefault}
            onChange={(e) => set('temperature', e.target.value)}
            aria-invalid={!!errors.temperature?.length || undefined}
            data-testid="settings-temperature"
          />
        </div>
        <p className="help" id="settings-temperature-help">
          {TEMPERATURE_MIN} to {TEMPERATURE_MAX}: lower is steadier, higher is more surprising.
        </p>
        <FieldError name="temperature" messages={errors.temperature} />
      </fieldset>

      <fieldset className="field" aria-describedby={describe('max_tokens', 'settings-max-tokens-help')}>
        <legend>Answer length</legend>
        <div className="field checkbox">
          <input
            id="settings-max-tokens-default"
            type="checkbox"
            checked={draft.maxTokensDefault}
            onChange={(e) => set('maxTokensDefault', e.target.checked)}
            data-testid="settings-max-tokens-default"
          />
          <label htmlFor="settings-max-tokens-default">Service default</label>
        </div>
        <label htmlFor="settings-max-tokens">Most tokens per answer</label>
        <input
          id="settings-max-tokens"
          type="number"
          min={MAX_TOKENS_MIN}
          max={MAX_TOKENS_MAX}
          step={1}
          value={draft.maxTokens}
          disabled={draft.maxTokensDefault}
          onChange={(e) => set('maxTokens', e.target.value)}
          aria-invalid={!!errors.max_tokens?.length || undefined}
          data-testid="settings-max-tokens"
        />
        <p className="help" id="settings-max-tokens-help">
          {MAX_TOKENS_MIN} to {MAX_TOKENS_MAX} tokens (a token is about three quarters of a word).
        </p>
        <FieldError name="max_tokens" messages={errors.max_tokens} />
      </fieldset>

      <fieldset className="field" aria-describedby={errors.response_style?.length ? fieldErrorId('response_style') : undefined}>
        <legend>Response style</legend>
        {STYLES.map((s) => (
          <div key={s.value} className="field checkbox">
            <input
              id={`settings-style-${s.value}`}
              type="radio"
              name="response_style"
              value={s.value}
              checked={draft.style === s.value}
              onChange={() => set('style', s.value)}
            />
            <label htmlFor={`settings-style-${s.value}`}>
              {s.label} <span className="muted small">— {s.help}</span>
            </label>
          </div>
        ))}
        <FieldError name="response_style" messages={errors.response_style} />
      </fieldset>

      <div className="field">
        <label htmlFor="settings-persona">
          Your name in the story <span className="optional">(optional)</span>
        </label>
        <input
          id="settings-persona"
          type="text"
          value={draft.persona}
          maxLength={PERSONA_MAX}
          onChange={(e) => set('persona', e.target.value)}
          aria-invalid={!!errors.persona_name?.length || undefined}
          aria-describedby={describe('persona_name', 'settings-persona-help')}
          data-testid="settings-persona"
        />
        <p className="help" id="settings-persona-help">
          How the characters address you. Empty: your username.
        </p>
        <FieldError name="persona_name" messages={errors.persona_name} />
      </div>

      <VisibilitySelect
        id="settings-visibility"
        label="New conversations are"
        value={draft.visibility}
        onChange={(v) => v && set('visibility', v)}
        errors={errors.default_visibility}
        errorName="default_visibility"
        testId="settings-visibility"
      />

      <ErrorBanner error={error} />
      <div className="actions">
        <button type="submit" disabled={busy} data-testid="settings-save">
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <span role="status" className="small muted" data-testid="settings-status">
          {status}
        </span>
      </div>
    </form>
  );
}
