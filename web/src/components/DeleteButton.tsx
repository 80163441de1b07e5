/** Delete behind a second click ("Delete … for good?"); a refusal is shown under it. */

import { useState } from 'react';
import { ErrorBanner } from './common';

export function DeleteButton({ what, onDelete, testId }: { what: string; onDelete: () => Promise<void>; testId: string }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onDelete();
    } catch (err) {
      setError(err);
      setBusy(false);
      setConfirming(false);
    }
  };
  return (
    <div className="delete-control">
      {confirming ? (
        <span className="actions" role="group" aria-label={`Delete ${what}?`}>
          <span className="small">Delete {what} for good?</span>
          <button type="button" className="danger small" onClick={() => void run()} disabled={busy} data-testid={`${testId}-confirm`}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
          <button type="button" className="secondary small" onClick={() => setConfirming(false)} disabled={busy}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" className="secondary small" onClick={() => setConfirming(true)} data-testid={testId}>
          Delete
        </button>
      )}
      <ErrorBanner error={error} />
    </div>
  );
}

