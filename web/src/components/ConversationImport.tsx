/** "Import a conversation": a Gaji export (.json) or a SillyTavern chat
 * (.jsonl) becomes a NEW conversation of the reader's; then it opens. */

import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError } from '../lib/api';
import { formatBytes } from '../lib/format';
import { useApi } from '../lib/session';
import type { Visibility } from '../lib/types';
import { ErrorBanner, FieldError, fieldErrorId } from './common';
import { VisibilitySelect } from './Visibility';

export const CONVERSATION_IMPORT_MAX_BYTES = 5 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `scenarioId` given: the conversation goes on that what-if; else the
 * reader may name one (a Gaji file's own is used when left empty). */
export function ConversationImportForm({ scenarioId }: { scenarioId?: string }) {
  const api = useApi();
  const navigate = useNavigate();
  const [file, setFile] = useState<File | null>(null);
  const [scenario, setScenario] = useState('');
  const [visibility, setVisibility] = useState<Visibility | ''>('');
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: Record<string, string[]> = {};
    const chosen = scenarioId ?? scenario.trim();
    if (!file) found.file = ['Choose a .json or .jsonl file.'];
    else if (!/\.(json|jsonl)$/i.test(file.name)) found.file = ['Only a Gaji export (.json) or a SillyTavern chat (.jsonl) can be imported.'];
    else if (file.size > CONVERSATION_IMPORT_MAX_BYTES) found.file = [`The file is larger than ${formatBytes(CONVERSATION_IMPORT_MAX_BYTES)}.`];
    if (chosen && !UUID.test(chosen)) found.scenario_id = ['A what-if id looks like 3f2b…-…; copy it from the what-if’s address.'];
    if (file && /\.jsonl$/i.test(file.name) && !chosen) found.scenario_id = ['A SillyTavern chat needs the what-if it belongs to.'];
    setErrors(found);
    setError(null);
    if (Object.keys(found).length || !file) return;
    setBusy(true);
    try {
      const created = await api.importConversation(file, { scenario_id: chosen || undefined, visibility: visibility || undefined });
      navigate(`/conversations/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} noValidate data-testid="conversation-import">
      <h2 className="h-small">Import a conversation</h2>
      <p className="help">
        A Gaji export (.json) or a SillyTavern chat (.jsonl), up to {formatBytes(CONVERSATION_IMPORT_MAX_BYTES)}. It becomes a new
        conversation of yours; the original is never changed.
      </p>
      <div className="field">
        <label htmlFor="conversation-import-file">Conversation file</label>
        <input
          id="conversation-import-file"
          type="file"
          accept=".json,.jsonl,application/json,application/x-ndjson"
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          aria-invalid={errors.file ? true : undefined}
          aria-describedby={errors.file ? fieldErrorId('file') : undefined}
          data-testid="conversation-import-file"
        />
        <FieldError name="file" messages={errors.file} />
      </div>
      {!scenarioId && (
        <div className="field">
          <label htmlFor="conversation-import-scenario">
            What-if id <span className="optional">(needed for a SillyTavern chat)</span>
          </label>
          <input
            id="conversation-import-scenario"
            type="text"
            value={scenario}
            onChange={(e) => setScenario(e.target.value)}
            aria-invalid={errors.scenario_id ? true : undefined}
            aria-describedby={errors.scenario_id ? fieldErrorId('scenario_id') : undefined}
            data-testid="conversation-import-scenario"
          />
          <FieldError name="scenario_id" messages={errors.scenario_id} />
        </div>
      )}
      {scenarioId && <FieldError name="scenario_id" messages={errors.scenario_id} />}
      <VisibilitySelect
        id="conversation-import-visibility"
        value={visibility}
        onChange={setVisibility}
        defaultLabel="As in my settings"
        errors={errors.visibility}
        testId="conversation-import-visibility"
      />
      <ErrorBanner error={error} />
      <button type="submit" disabled={busy} data-testid="conversation-import-submit">
        {busy ? 'Importing…' : 'Import'}
      </button>
    </form>
  );
}
