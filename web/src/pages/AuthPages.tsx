import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { ErrorBanner, FieldError, fieldErrorId } from '../components/common';
import { ApiError, type FieldErrors } from '../lib/api';
import { useApi, useSession } from '../lib/session';

function destination(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('/login') && !from.startsWith('/register') ? from : '/';
}

/** A labelled input with its help and its errors (the server's `details`
 * for `name`). Forms that share a page give each field its own `idPrefix`
 * and `errorName`, so ids stay unique. */
export function TextField({
  name,
  label,
  type = 'text',
  value,
  onChange,
  errors,
  autoComplete,
  maxLength,
  help,
  idPrefix = 'auth',
  errorName = name,
  required = true,
}: {
  name: string;
  label: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  errors?: string[];
  autoComplete?: string;
  maxLength?: number;
  help?: string;
  idPrefix?: string;
  errorName?: string;
  required?: boolean;
}) {
  const id = `${idPrefix}-${name}`;
  const describedBy = [errors?.length ? fieldErrorId(errorName) : '', help ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {help && (
        <p className="help" id={`${id}-help`}>
          {help}
        </p>
      )}
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        required={required}
        maxLength={maxLength}
        autoComplete={autoComplete}
        aria-invalid={!!errors?.length || undefined}
        aria-describedby={describedBy}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError name={errorName} messages={errors} />
    </div>
  );
}

export function LoginPage() {
  const { login } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const expired = (location.state as { expired?: boolean } | null)?.expired;
  const reset = (location.state as { reset?: boolean } | null)?.reset;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!email.trim()) found.email = ['Enter your email.'];
    if (!password) found.password = ['Enter your password.'];
    setErrors(found);
    setError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await login(email.trim(), password);
      navigate(destination(location.state), { replace: true });
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow">
      <h1>Log in</h1>
      {expired && (
        <p className="notice" role="status">
          Your session has ended. Please log in again.
        </p>
      )}
      {reset && (
        <p className="notice" role="status" data-testid="reset-done">
          Your password has been changed. Log in with the new one.
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <TextField name="email" label="Email" type="email" value={email} onChange={setEmail} errors={errors.email} autoComplete="email" maxLength={255} />
        <TextField name="password" label="Password" type="password" value={password} onChange={setPassword} errors={errors.password} autoComplete="current-password" maxLength={128} />
        <ErrorBanner error={error} />
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="login-submit">
            {busy ? 'Logging in…' : 'Log in'}
          </button>
        </div>
      </form>
      <p>
        <Link to="/forgot-password" data-testid="forgot-link">
          Forgot your password?
        </Link>
      </p>
      <p>
        New here? <Link to="/register" state={location.state}>Create an account</Link>.
      </p>
    </section>
  );
}

export const USERNAME_HELP = 'Username must be 3-50 characters: letters, digits or underscore.';
export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,50}$/;
export const PASSWORD_HELP = 'At least 8 characters, with an uppercase letter, a lowercase letter and a digit.';

export function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  if (password.length < 8) problems.push('Password must be at least 8 characters.');
  if (!/[A-Z]/.test(password)) problems.push('Password must contain an uppercase letter.');
  if (!/[a-z]/.test(password)) problems.push('Password must contain a lowercase letter.');
  if (!/[0-9]/.test(password)) problems.push('Password must contain a digit.');
  return problems;
}

export function RegisterPage() {
  const { register } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!email.trim()) found.email = ['Enter your email.'];
    if (!USERNAME_PATTERN.test(username.trim())) found.username = [USERNAME_HELP];
    const problems = passwordProblems(password);
    if (problems.length) found.password = problems;
    setErrors(found);
    setError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await register(email.trim(), username.trim(), password);
      navigate(destination(location.state), { replace: true });
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow">
      <h1>Create an account</h1>
      <form onSubmit={submit} noValidate>
        <TextField name="email" label="Email" type="email" value={email} onChange={setEmail} errors={errors.email} autoComplete="email" maxLength={255} />
        <TextField name="username" label="Username" value={username} onChange={setUsername} errors={errors.username} autoComplete="username" maxLength={50} help="3-50 letters, digits or underscores." />
        <TextField
          name="password"
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          errors={errors.password}
          autoComplete="new-password"
          maxLength={128}
          help={PASSWORD_HELP}
        />
        <ErrorBanner error={error} />
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="register-submit">
            {busy ? 'Creating…' : 'Create account'}
          </button>
        </div>
      </form>
      <p>
        Already registered? <Link to="/login" state={location.state}>Log in</Link>.
      </p>
    </section>
  );
}

/** "Forgot your password?": the answer is the same whether or not the
 * address has an account, so the form reveals nothing about who is registered. */
export function ForgotPasswordPage() {
  const api = useApi();
  const [email, setEmail] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!email.trim()) found.email = ['Enter your email.'];
    setErrors(found);
    setError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await api.requestPasswordReset(email.trim());
      setSent(true);
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow">
      <h1>Reset your password</h1>
      {sent ? (
        <>
          <p className="notice" role="status" data-testid="reset-sent">
            If that address has an account, we sent it a link to choose a new password. The link works once and expires after a while.
          </p>
          <p>
            <Link to="/login">Back to log in</Link>
          </p>
        </>
      ) : (
        <>
          <p className="help">Enter the email address of your account and we will send you a link to choose a new password.</p>
          <form onSubmit={submit} noValidate>
            <TextField name="email" label="Email" type="email" value={email} onChange={setEmail} errors={errors.email} autoComplete="email" maxLength={255} />
            <ErrorBanner error={error} />
            <div className="actions">
              <button type="submit" disabled={busy} data-testid="forgot-submit">
                {busy ? 'Sending…' : 'Send the link'}
              </button>
            </div>
          </form>
          <p>
            Remembered it? <Link to="/login">Log in</Link>.
          </p>
        </>
      )}
    </section>
  );
}

/** The emailed link `#/reset-password?uid=...&token=...`: a new password, then log in. */
export function ResetPasswordPage() {
  const api = useApi();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const uid = params.get('uid') ?? '';
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (!uid || !token) {
    return (
      <section className="card narrow">
        <h1>Choose a new password</h1>
        <p role="alert">
          This link is incomplete. Copy the whole link from the email, or <Link to="/forgot-password">ask for a new one</Link>.
        </p>
      </section>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    const problems = passwordProblems(password);
    if (problems.length) found.new_password = problems;
    if (confirm !== password) found.confirm = ['The two passwords differ.'];
    setErrors(found);
    setError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await api.confirmPasswordReset({ uid, token, new_password: password });
      navigate('/login', { replace: true, state: { reset: true } });
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  // A used, expired or mangled link: only a new one helps.
  const linkErrors = [...(errors.token ?? []), ...(errors.uid ?? [])];
  return (
    <section className="card narrow">
      <h1>Choose a new password</h1>
      <form onSubmit={submit} noValidate>
        <TextField
          name="new_password"
          label="New password"
          type="password"
          value={password}
          onChange={setPassword}
          errors={errors.new_password}
          autoComplete="new-password"
          maxLength={128}
          help={PASSWORD_HELP}
        />
        <TextField name="confirm" label="New password again" type="password" value={confirm} onChange={setConfirm} errors={errors.confirm} autoComplete="new-password" maxLength={128} />
        {linkErrors.length > 0 && (
          <div className="field-error" role="alert" data-testid="field-error-token">
            {linkErrors.map((m, i) => (
              <p key={i}>{m}</p>
            ))}
            <p>
              <Link to="/forgot-password">Ask for a new link</Link>
            </p>
          </div>
        )}
        <ErrorBanner error={error} />
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="reset-submit">
            {busy ? 'Saving…' : 'Save the new password'}
          </button>
        </div>
      </form>
    </section>
  );
}
