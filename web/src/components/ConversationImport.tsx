/** "Import a conversation": a Gaji export (.json) or a SillyTavern chat
 * (.jsonl) becomes a NEW conversation of the reader's; then it opens. */

import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { formatBytes } from '../lib/format';
import { useApi } from '../lib/session';
import type { Visibility } from '../lib/types';
import { FieldError, fieldErrorId } from './common';
import { FileImportForm } from './FileImport';
import { VisibilitySelect } from './Visibility';

export const CONVERSATION_IMPORT_MAX_BYTES = 5 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `scenarioId` given: the conversation goes on that what-if; else the
 * reader may name one (a Gaji file's own is used when left empty). */
export function ConversationImportForm({ scenarioId }: { scenarioId?: string }) {
  const api = useApi();
  const navigate = useNavigate();
  const [scenario, setScenario] = useState('');
  const [visibility, setVisibility] = useState<Visibility | ''>('');
  const chosen = scenarioId ?? scenario.trim();

  const check = (file: File | null) => {
    const found: Record<string, string[]> = {};
    if (!file) found.file = ['Choose a .json or .jsonl file.'];
    else if (!/\.(json|jsonl)$/i.test(file.name)) found.file = ['Only a Gaji export (.json) or a SillyTavern chat (.jsonl) can be imported.'];
    else if (file.size > CONVERSATION_IMPORT_MAX_BYTES) found.file = [`The file is larger than ${formatBytes(CONVERSATION_IMPORT_MAX_BYTES)}.`];
    if (chosen && !UUID.test(chosen)) found.scenario_id = ['A what-if id looks like 3f2b…-…; copy it from the what-if’s address.'];
    if (file && /\.jsonl$/i.test(file.name) && !chosen) found.scenario_id = ['A SillyTavern chat needs the what-if it belongs to.'];
    return found;
  };

  return (
    <FileImportForm
      idPrefix="conversation-import"
      testId="conversation-import"
      title="Import a conversation"
      help={
        <>
          A Gaji export (.json) or a SillyTavern chat (.jsonl), up to {formatBytes(CONVERSATION_IMPORT_MAX_BYTES)}. It becomes a new
          conversation of yours; the original is never changed.
        </>
      }
      fileLabel="Conversation file"
      accept=".json,.jsonl,application/json,application/x-ndjson"
      check={check}
      upload={(file) => api.importConversation(file, { scenario_id: chosen || undefined, visibility: visibility || undefined })}
      onImported={(created) => navigate(`/conversations/${created.id}`)}
      submitLabel="Import"
      extra={(errors) => (
        <>
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
        </>
      )}
    />
  );
}
