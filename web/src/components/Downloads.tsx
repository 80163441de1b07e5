/** Export buttons: each fetches a file route with the reader's token and
 * saves what it answers under the name the server gives. */

import { useState } from 'react';
import type { DownloadedFile } from '../lib/api';
import { saveFile } from '../lib/download';
import { ErrorBanner } from './common';

export interface DownloadChoice {
  label: string;
  testId: string;
  fetch: () => Promise<DownloadedFile>;
}

export function DownloadButtons({ label, choices, testId }: { label: string; choices: DownloadChoice[]; testId?: string }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');

  const run = async (choice: DownloadChoice) => {
    setBusy(choice.testId);
    setError(null);
    setStatus('');
    try {
      const file = await choice.fetch();
      saveFile(file);
      setStatus(`Downloaded ${file.filename}.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="downloads" role="group" aria-label={label} data-testid={testId}>
      <div className="actions">
        <span className="small">{label}:</span>
        {choices.map((choice) => (
          <button
            key={choice.testId}
            type="button"
            className="secondary small"
            onClick={() => void run(choice)}
            disabled={busy !== null}
            data-testid={choice.testId}
          >
            {busy === choice.testId ? 'Preparing…' : choice.label}
          </button>
        ))}
        <span role="status" className="small muted">
          {status}
        </span>
      </div>
      <ErrorBanner error={error} />
    </div>
  );
}
