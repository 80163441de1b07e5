/** The reader's own account (`#/account`): username, email and bio, the
 * password, a download of everything they own, and deleting the account. */

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ErrorBanner, FieldError, Loading, fieldErrorId } from '../components/common';
import { RequireLogin } from '../components/Layout';
import { ApiError, type FieldErrors } from '../lib/api';
import { formatDate } from '../lib/format';
import { useApi, useResource, useSession } from '../lib/session';
import type { Me, MeUpdate } from '../lib/types';
import { PASSWORD_HELP, TextField, USERNAME_HELP, USERNAME_PATTERN, passwordProblems } from './AuthPages';

const BIO_MAX = 500;

export function AccountPage() {
  return (
    <RequireLogin what="manage your account">
      <Account />
    </RequireLogin>
  );
}

function Account() {
  const api = useApi();
  const me = useResource((signal) => api.me(signal), []);
  if (me.loading && !me.data) return <Loading />;
  if (!me.data) return <ErrorBanner error={me.error} onRetry={me.reload} />;
  return (
    <article className="account" data-testid="account">
      <header className="page-header">
        <h1>Your account</h1>
        <p className="muted small">
          Signed in as <span data-testid="account-email">{me.data.email}</span> · member since {formatDate(me.data.created_at)} ·{' '}
          <Link to="/settings">Chat settings</Link> · <Link to={`/users/${encodeURIComponent(me.data.username)}`}>Public profile</Link>
        </p>
      </header>
      <DetailsForm me={me.data} onSaved={(updated) => me.setData(updated)} />
      <PasswordForm />
      <ExportBox username={me.data.username} />
      <DeleteAccount />
    </article>
  );
}

/** Sends only what changed; an email change is confirmed by the current password. */
function DetailsForm({ me, onSaved }: { me: Me; onSaved: (me: Me) => void }) {
  const api = useApi();
  const [username, setUsername] = useState(me.username);
  const [email, setEmail] = useState(me.email);
  const [bio, setBio] = useState(me.bio ?? '');
  const [currentPassword, setCurrentPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const emailChanged = email.trim().toLowerCase() !== me.email.toLowerCase();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const change: MeUpdate = {};
    if (username.trim() !== me.username) change.username = username.trim();
    // Addresses are kept lower-cased: a change of case alone is no change.
    if (emailChanged) change.email = email.trim();
    if (bio !== (me.bio ?? '')) change.bio = bio;
    const found: FieldErrors = {};
    if (change.username !== undefined && !USERNAME_PATTERN.test(change.username)) found.username = [USERNAME_HELP];
    if (change.email !== undefined && !change.email) found.email = ['Enter your email.'];
    if (change.email !== undefined && !currentPassword) found.current_password = ['Enter your current password to change your email.'];
    setErrors(found);
    setError(null);
    setStatus('');
    if (Object.keys(found).length) return;
    if (Object.keys(change).length === 0) {
      setStatus('Nothing to save.');
      return;
    }
    if (change.email !== undefined) change.current_password = currentPassword;
    setBusy(true);
    try {
      const updated = await api.updateMe(change);
      onSaved(updated);
      setUsername(updated.username);
      setEmail(updated.email);
      setBio(updated.bio ?? '');
      setCurrentPassword('');
      setStatus('Saved.');
      // The menu shows the name the access token carries: a new token carries the new one.
      if (change.username !== undefined) api.client.refreshAccess().catch(() => undefined);
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="details-heading">
      <h2 id="details-heading">Username, email and bio</h2>
      <form onSubmit={submit} noValidate data-testid="details-form">
        <TextField
          idPrefix="account"
          name="username"
          label="Username"
          value={username}
          onChange={setUsername}
          errors={errors.username}
          autoComplete="username"
          maxLength={50}
          help="3-50 letters, digits or underscores."
        />
        <TextField idPrefix="account" name="email" label="Email" type="email" value={email} onChange={setEmail} errors={errors.email} autoComplete="email" maxLength={255} />
        {(emailChanged || errors.current_password) && (
          <TextField
            idPrefix="account"
            name="current_password"
            label="Current password"
            type="password"
            value={currentPassword}
            onChange={setCurrentPassword}
            errors={errors.current_password}
            autoComplete="current-password"
            maxLength={128}
            help="Changing your email needs your current password."
          />
        )}
        <div className="field">
          <label htmlFor="account-bio">
            Bio <span className="optional">(optional)</span>
          </label>
          <textarea
            id="account-bio"
            name="bio"
            rows={3}
            value={bio}
            maxLength={BIO_MAX}
            onChange={(e) => setBio(e.target.value)}
            aria-invalid={!!errors.bio?.length || undefined}
            aria-describedby={errors.bio?.length ? fieldErrorId('bio') : undefined}
          />
          <span className="counter">
            {bio.length} / {BIO_MAX}
          </span>
          <FieldError name="bio" messages={errors.bio} />
        </div>
        <ErrorBanner error={error} />
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="details-save">
            {busy ? 'Saving…' : 'Save'}
          </button>
          <span role="status" className="small muted" data-testid="details-status">
            {status}
          </span>
        </div>
      </form>
    </section>
  );
}

function PasswordForm() {
  const { changePassword } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!current) found.current_password = ['Enter your current password.'];
    const problems = passwordProblems(next);
    if (problems.length) found.new_password = problems;
    setErrors(found);
    setError(null);
    setStatus('');
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await changePassword(current, next);
      setCurrent('');
      setNext('');
      setStatus('Password changed. You stay signed in here; other devices must log in again.');
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form onSubmit={submit} noValidate data-testid="password-form">
        <TextField
          idPrefix="password"
          errorName="password-current_password"
          name="current_password"
          label="Current password"
          type="password"
          value={current}
          onChange={setCurrent}
          errors={errors.current_password}
          autoComplete="current-password"
          maxLength={128}
        />
        <TextField
          idPrefix="password"
          errorName="password-new_password"
          name="new_password"
          label="New password"
          type="password"
          value={next}
          onChange={setNext}
          errors={errors.new_password}
          autoComplete="new-password"
          maxLength={128}
          help={PASSWORD_HELP}
        />
        <ErrorBanner error={error} />
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="password-save">
            {busy ? 'Changing…' : 'Change password'}
          </button>
          <span role="status" className="small muted" data-testid="password-status">
            {status}
          </span>
        </div>
      </form>
    </section>
  );
}

/** Saves `data` as a JSON file (a link clicked for the reader). */
export function downloadJson(data: unknown, filename: string): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Revoked a moment later: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

function ExportBox({ username }: { username: string }) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');

  const download = async () => {
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      const data = await api.exportAccount();
      downloadJson(data, `gaji-export-${username}.json`);
      setStatus('Your data has been downloaded.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="export-heading">
      <h2 id="export-heading">Your data</h2>
      <p className="help">
        One JSON file with your account, settings, what-ifs, conversations and their messages, memos, likes, follows and notifications.
      </p>
      <div className="actions">
        <button type="button" className="secondary" onClick={download} disabled={busy} data-testid="export-button">
          {busy ? 'Preparing…' : 'Download my data'}
        </button>
        <span role="status" className="small muted" data-testid="export-status">
          {status}
        </span>
      </div>
      <ErrorBanner error={error} />
    </section>
  );
}

/** Deleting asks for the password in a confirmation; then the session ends and home it is. */
function DeleteAccount() {
  const { deleteAccount } = useSession();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dialogRef = useRef<HTMLDivElement>(null);
  const openerRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) dialogRef.current?.querySelector('input')?.focus();
  }, [confirming]);

  const cancel = () => {
    setConfirming(false);
    setPassword('');
    setErrors({});
    setError(null);
    // Back to the button that opened it (it renders again on the next frame).
    setTimeout(() => openerRef.current?.focus(), 0);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!password) {
      setErrors({ password: ['Enter your password to confirm.'] });
      return;
    }
    setErrors({});
    setError(null);
    setBusy(true);
    try {
      await deleteAccount(password);
      navigate('/', { replace: true });
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="card danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete your account</h2>
      <p className="help">
        Your conversations, memos, likes, follows and notifications are removed for good. The what-ifs you created stay, credited to “deleted user”, so
        the forks others made of them keep working.
      </p>
      {!confirming ? (
        <button ref={openerRef} type="button" className="danger" onClick={() => setConfirming(true)} data-testid="delete-account">
          Delete my account…
        </button>
      ) : (
        <div
          ref={dialogRef}
          className="confirm-box"
          role="alertdialog"
          aria-labelledby="delete-confirm-heading"
          aria-describedby="delete-confirm-text"
          data-testid="delete-dialog"
          onKeyDown={(e) => {
            if (e.key === 'Escape') cancel();
          }}
        >
          <h3 id="delete-confirm-heading">Delete your account for good?</h3>
          <p id="delete-confirm-text">This cannot be undone. Enter your password to confirm.</p>
          <form onSubmit={submit} noValidate>
            <TextField
              idPrefix="delete"
              errorName="delete-password"
              name="password"
              label="Password"
              type="password"
              value={password}
              onChange={setPassword}
              errors={errors.password}
              autoComplete="current-password"
              maxLength={128}
            />
            <ErrorBanner error={error} />
            <div className="actions">
              <button type="submit" className="danger" disabled={busy} data-testid="delete-confirm">
                {busy ? 'Deleting…' : 'Delete forever'}
              </button>
              <button type="button" className="secondary" onClick={cancel} disabled={busy}>
                Cancel
              </button>
            </div>
          </form>
        </div>
      )}
    </section>
  );
}
