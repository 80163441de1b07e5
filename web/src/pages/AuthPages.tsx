import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router-dom';
import { ErrorBanner, FieldError, fieldErrorId } from '../components/common';
import { ApiError, type FieldErrors } from '../lib/api';
import { useSession } from '../lib/session';

function destination(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('/login') && !from.startsWith('/register') ? from : '/';
}

function TextField({
  name,
  label,
  type = 'text',
  value,
  onChange,
  errors,
  autoComplete,
  maxLength,
  help,
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
}) {
  const id = `auth-${name}`;
  const describedBy = [errors?.length ? fieldErrorId(name) : '', help ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
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
        required
        maxLength={maxLength}
        autoComplete={autoComplete}
        aria-invalid={!!errors?.length || undefined}
        aria-describedby={describedBy}
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldError name={name} messages={errors} />
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
        New here? <Link to="/register" state={location.state}>Create an account</Link>.
      </p>
    </section>
  );
}

const USERNAME_HELP = 'Username must be 3-50 characters: letters, digits or underscore.';
const PASSWORD_HELP = 'At least 8 characters, with an uppercase letter, a lowercase letter and a digit.';

function passwordProblems(password: string): string[] {
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
    if (!/^[A-Za-z0-9_]{3,50}$/.test(username.trim())) found.username = [USERNAME_HELP];
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
