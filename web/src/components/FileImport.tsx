/** Importing a file: its field, the checks made before the upload, and the
 * refusal shown under its fields (the envelope's details) and in a banner.
 * One form serves characters, lorebooks and conversations. */

import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../lib/api';
import { ErrorBanner, FieldError, fieldErrorId } from './common';

/** The extension of a file name, lower case, without the dot. */
export function extensionOf(name: string): string {
  const match = /\.([a-z0-9]+)$/i.exec(name);
  return match ? match[1].toLowerCase() : '';
}

/** An import refused: the envelope's details under their fields, its message in the banner. */
function useImportErrors() {
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  return {
    errors,
    error,
    check: (found: Record<string, string[]>) => {
      setErrors(found);
      setError(null);
      return Object.keys(found).length === 0;
    },
    fail: (err: unknown) => {
      setErrors(err instanceof ApiError ? err.details : {});
      setError(err);
    },
  };
}

/** An import form's sending: `found` is what is wrong before the upload (none:
 * `upload` runs, busy meanwhile, and the form is emptied after it); a refusal
 * lands in `errors` (by field) and `error` (the banner). */
export function useImportSubmit() {
  const [busy, setBusy] = useState(false);
  const failure = useImportErrors();
  const submit = async (form: HTMLFormElement, found: Record<string, string[]>, upload: () => Promise<void>) => {
    if (!failure.check(found)) return;
    setBusy(true);
    try {
      await upload();
      form.reset();
    } catch (err) {
      failure.fail(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, errors: failure.errors, error: failure.error, submit };
}

export function FileField({
  id,
  label,
  accept,
  name = 'file',
  errors,
  onChange,
  testId,
}: {
  id: string;
  label: string;
  accept: string;
  name?: string;
  errors?: string[];
  onChange: (file: File | null) => void;
  testId: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="file"
        accept={accept}
        onChange={(e) => onChange(e.target.files?.[0] ?? null)}
        aria-invalid={errors?.length ? true : undefined}
        aria-describedby={errors?.length ? fieldErrorId(name) : undefined}
        data-testid={testId}
      />
      <FieldError name={name} messages={errors} />
    </div>
  );
}

/** A one-file import: `check` says what is wrong before the upload (field →
 * messages; `file` null when none is chosen), `upload` sends it, and the form
 * empties once `onImported` has the result. Its file field and button are
 * `${idPrefix}-file` and `${idPrefix}-submit` (id and test id). */
export function FileImportForm<T>({
  idPrefix,
  testId,
  title,
  help,
  fileLabel,
  accept,
  check,
  upload,
  onImported,
  submitLabel,
  extra,
}: {
  idPrefix: string;
  testId: string;
  title: string;
  help: ReactNode;
  fileLabel: string;
  accept: string;
  check: (file: File | null) => Record<string, string[]>;
  upload: (file: File) => Promise<T>;
  onImported: (result: T) => void;
  submitLabel: string;
  /** More fields under the file's, given the messages by field. */
  extra?: (errors: Record<string, string[]>) => ReactNode;
}) {
  const [file, setFile] = useState<File | null>(null);
  const sending = useImportSubmit();

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void sending.submit(event.currentTarget, check(file), async () => {
      if (!file) return;
      onImported(await upload(file));
      setFile(null);
    });
  };

  return (
    <form className="card" onSubmit={submit} noValidate data-testid={testId}>
      <h2 className="h-small">{title}</h2>
      <p className="help">{help}</p>
      <FileField id={`${idPrefix}-file`} label={fileLabel} accept={accept} errors={sending.errors.file} onChange={setFile} testId={`${idPrefix}-file`} />
      {extra?.(sending.errors)}
      <ErrorBanner error={sending.error} />
      <button type="submit" disabled={sending.busy} data-testid={`${idPrefix}-submit`}>
        {sending.busy ? 'Importing…' : submitLabel}
      </button>
    </form>
  );
}
