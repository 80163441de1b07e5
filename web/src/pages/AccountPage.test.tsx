import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Layout } from '../components/Layout';
import { FakeEventSource } from '../test/fakeEventSource';
import { USER_ID, envelope, json, jwt, renderRoutes, type Handler } from '../test/harness';
import type { Me } from '../lib/types';
import { AccountPage } from './AccountPage';
import { ForgotPasswordPage, LoginPage, ResetPasswordPage } from './AuthPages';

const ME: Me = {
  id: USER_ID,
  email: 'reader@gaji.local',
  username: 'reader',
  bio: 'Reads a lot.',
  avatar_url: null,
  is_staff: false,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

function renderAccount(extra: Record<string, Handler> = {}) {
  const state = { me: { ...ME } };
  const view = renderRoutes([{ path: '/account', element: <AccountPage /> }, { path: '/', element: <h1>Home</h1> }], {
    at: '/account',
    routes: {
      'GET /users/me': () => json(200, state.me),
      'PATCH /users/me': ({ body }) => {
        const change = body as Record<string, string>;
        if (change.email && change.current_password !== 'Right1234') {
          return envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { current_password: ['The current password is wrong.'] });
        }
        if (change.username === 'taken') return envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { username: ['This username is taken.'] });
        const { current_password: _ignored, ...rest } = change;
        void _ignored;
        state.me = { ...state.me, ...rest };
        return json(200, state.me);
      },
      ...extra,
    },
  });
  return { ...view, state };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('<AccountPage>', () => {
  it('shows the account and saves only what changed', async () => {
    const user = userEvent.setup();
    const { server } = renderAccount();
    expect(await screen.findByTestId('account-email')).toHaveTextContent('reader@gaji.local');
    const bio = screen.getByLabelText(/Bio/);
    expect(bio).toHaveValue('Reads a lot.');
    await user.clear(bio);
    await user.type(bio, 'Reads Austen.');
    await user.click(screen.getByTestId('details-save'));
    await waitFor(() => expect(screen.getByTestId('details-status')).toHaveTextContent('Saved.'));
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ bio: 'Reads Austen.' });
  });

  it('asks for the current password to change the email and shows a wrong one under its field', async () => {
    const user = userEvent.setup();
    const { server, state } = renderAccount();
    const email = await screen.findByLabelText('Email');
    expect(screen.queryByLabelText('Current password', { selector: '#account-current_password' })).toBeNull();
    await user.clear(email);
    await user.type(email, 'new@gaji.local');
    const current = screen.getByLabelText('Current password', { selector: '#account-current_password' });
    await user.type(current, 'Wrong1234');
    await user.click(screen.getByTestId('details-save'));
    const error = await screen.findByTestId('field-error-current_password');
    expect(error).toHaveTextContent('The current password is wrong.');
    expect(current).toHaveAttribute('aria-invalid', 'true');
    expect(current.getAttribute('aria-describedby')).toContain(error.id);
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ email: 'new@gaji.local', current_password: 'Wrong1234' });
    expect(state.me.email).toBe('reader@gaji.local');

    await user.clear(current);
    await user.type(current, 'Right1234');
    await user.click(screen.getByTestId('details-save'));
    await waitFor(() => expect(screen.getByTestId('account-email')).toHaveTextContent('new@gaji.local'));
    expect(screen.queryByTestId('field-error-current_password')).toBeNull();
  });

  it('a new username reaches the menu: the access token is refreshed to carry it', async () => {
    const user = userEvent.setup();
    const renamed = jwt({ sub: USER_ID, username: 'lizzy', is_staff: false });
    const { server, tokens } = renderAccount({ 'POST /auth/refresh': () => json(200, { access_token: renamed, expires_in: 3600, token_type: 'Bearer' }) });
    const username = await screen.findByLabelText('Username');
    await user.clear(username);
    await user.type(username, 'lizzy');
    await user.click(screen.getByTestId('details-save'));
    await waitFor(() => expect(tokens.accessToken).toBe(renamed));
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ username: 'lizzy' });
    expect(server.requests.find((r) => r.path === '/auth/refresh')?.body).toEqual({ refresh_token: 'r1' });
  });

  it('shows a taken username under the username field', async () => {
    const user = userEvent.setup();
    renderAccount();
    const username = await screen.findByLabelText('Username');
    await user.clear(username);
    await user.type(username, 'taken');
    await user.click(screen.getByTestId('details-save'));
    expect(await screen.findByTestId('field-error-username')).toHaveTextContent('This username is taken.');
  });

  it('changes the password and keeps the session on the fresh tokens', async () => {
    const user = userEvent.setup();
    const fresh = jwt({ sub: USER_ID, username: 'reader', is_staff: false, v: 2 });
    const { server, tokens } = renderAccount({
      'POST /users/me/password': ({ body }) => {
        const b = body as { current_password: string };
        if (b.current_password !== 'Right1234') return envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { current_password: ['The current password is wrong.'] });
        return json(200, { user: ME, tokens: { access_token: fresh, refresh_token: 'r2', expires_in: 3600, token_type: 'Bearer' } });
      },
    });
    const form = await screen.findByTestId('password-form');
    await user.type(within(form).getByLabelText('Current password'), 'Nope1234');
    await user.type(within(form).getByLabelText('New password'), 'Better1234');
    await user.click(screen.getByTestId('password-save'));
    expect(await screen.findByTestId('field-error-password-current_password')).toHaveTextContent('The current password is wrong.');
    expect(tokens.refreshToken).toBe('r1');

    await user.clear(within(form).getByLabelText('Current password'));
    await user.type(within(form).getByLabelText('Current password'), 'Right1234');
    await user.click(screen.getByTestId('password-save'));
    await waitFor(() => expect(screen.getByTestId('password-status')).toHaveTextContent('Password changed.'));
    expect(tokens.refreshToken).toBe('r2');
    expect(tokens.accessToken).toBe(fresh);
    expect(server.requests.filter((r) => r.path === '/users/me/password').at(-1)?.body).toEqual({ current_password: 'Right1234', new_password: 'Better1234' });
  });

  it('checks a weak new password before sending it', async () => {
    const user = userEvent.setup();
    const { server } = renderAccount();
    const form = await screen.findByTestId('password-form');
    await user.type(within(form).getByLabelText('Current password'), 'Right1234');
    await user.type(within(form).getByLabelText('New password'), 'short');
    await user.click(screen.getByTestId('password-save'));
    expect(await screen.findByTestId('field-error-password-new_password')).toHaveTextContent('at least 8 characters');
    expect(server.requests.some((r) => r.path === '/users/me/password')).toBe(false);
  });

  it('downloads the export as a JSON file named after the reader', async () => {
    const user = userEvent.setup();
    const created: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      created.push(blob);
      return 'blob:export';
    });
    // jsdom has no object URLs: these stand in for the browser's.
    const original = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };
    URL.createObjectURL = createObjectURL;
    URL.revokeObjectURL = vi.fn();
    onTestFinished(() => {
      URL.createObjectURL = original.create;
      URL.revokeObjectURL = original.revoke;
    });
    const clicks: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(this);
    });
    renderAccount({ 'GET /users/me/export': () => json(200, { exported_at: '2026-02-01T00:00:00Z', user: ME, conversations: [] }) });
    await user.click(await screen.findByTestId('export-button'));
    await waitFor(() => expect(screen.getByTestId('export-status')).toHaveTextContent('downloaded'));
    expect(clicks).toHaveLength(1);
    expect(clicks[0].download).toBe('gaji-export-reader.json');
    expect(clicks[0].href).toBe('blob:export');
    expect(JSON.parse(await created[0].text())).toMatchObject({ user: { username: 'reader' }, conversations: [] });
  });

  it('deletes the account after the password confirms it, then signs out and goes home', async () => {
    const user = userEvent.setup();
    const { server, tokens } = renderAccount({
      'DELETE /users/me': ({ body }) =>
        (body as { password: string }).password === 'Right1234'
          ? new Response(null, { status: 204 })
          : envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { password: ['The password is wrong.'] }),
    });
    await user.click(await screen.findByTestId('delete-account'));
    const dialog = screen.getByTestId('delete-dialog');
    expect(dialog).toHaveAttribute('role', 'alertdialog');
    const password = within(dialog).getByLabelText('Password');
    expect(password).toHaveFocus();
    await user.type(password, 'Wrong1234');
    await user.click(screen.getByTestId('delete-confirm'));
    expect(await screen.findByTestId('field-error-delete-password')).toHaveTextContent('The password is wrong.');
    expect(tokens.accessToken).not.toBeNull();

    await user.clear(password);
    await user.type(password, 'Right1234');
    await user.click(screen.getByTestId('delete-confirm'));
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent(/^\/$/));
    expect(screen.getByRole('heading', { name: 'Home' })).toBeInTheDocument();
    expect(tokens.accessToken).toBeNull();
    expect(localStorage.getItem('gaji.auth')).toBeNull();
    // The account is gone: no logout call for its revoked tokens.
    expect(server.requests.some((r) => r.path === '/auth/logout')).toBe(false);
  });

  it('closes the live notification stream when deleting the account signs out', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    FakeEventSource.reset();
    const user = userEvent.setup();
    renderRoutes([{ path: '/account', element: <AccountPage /> }, { path: '/', element: <h1>Home</h1> }], {
      at: '/account',
      layout: (children) => <Layout>{children}</Layout>,
      routes: {
        'GET /users/me': () => json(200, ME),
        'GET /notifications': () => json(200, { content: [], page: { number: 0, size: 20, total_elements: 0, total_pages: 0 }, unread_count: 0 }),
        'POST /notifications/stream': () => json(200, { stream_url: 'http://ai.test/api/ai/notifications/stream?ticket=T1', stream_expires_at: '2099-01-01T00:00:00Z' }),
        'DELETE /users/me': () => new Response(null, { status: 204 }),
      },
    });
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    expect(screen.getByTestId('notification-bell')).toBeInTheDocument();
    await user.click(await screen.findByTestId('delete-account'));
    await user.type(within(screen.getByTestId('delete-dialog')).getByLabelText('Password'), 'Right1234');
    await user.click(screen.getByTestId('delete-confirm'));
    await waitFor(() => expect(screen.queryByTestId('notification-bell')).toBeNull());
    expect(FakeEventSource.last.closed).toBe(true);
  });
});

describe('password reset', () => {
  it('the login page links to it; asking answers the same whether or not the address exists', async () => {
    const user = userEvent.setup();
    const { server } = renderRoutes(
      [
        { path: '/login', element: <LoginPage /> },
        { path: '/forgot-password', element: <ForgotPasswordPage /> },
      ],
      { at: '/login', signedIn: false, routes: { 'POST /auth/password-reset': () => json(202, { detail: 'If the address has an account, a link was sent.' }) } },
    );
    await user.click(screen.getByTestId('forgot-link'));
    await user.type(await screen.findByLabelText('Email'), 'someone@gaji.local');
    await user.click(screen.getByTestId('forgot-submit'));
    expect(await screen.findByTestId('reset-sent')).toHaveTextContent('If that address has an account, we sent it a link');
    const sent = server.requests.find((r) => r.path === '/auth/password-reset')!;
    expect(sent.body).toEqual({ email: 'someone@gaji.local' });
    expect(sent.auth).toBeNull();
  });

  it('sets a new password from the emailed link, then goes to log in', async () => {
    const user = userEvent.setup();
    const { server } = renderRoutes(
      [
        { path: '/reset-password', element: <ResetPasswordPage /> },
        { path: '/login', element: <LoginPage /> },
      ],
      {
        at: '/reset-password?uid=MQ&token=abc-123',
        signedIn: false,
        routes: { 'POST /auth/password-reset/confirm': () => json(200, { detail: 'Password changed.' }) },
      },
    );
    await user.type(screen.getByLabelText('New password'), 'Fresh1234');
    await user.type(screen.getByLabelText('New password again'), 'Fresh1234');
    await user.click(screen.getByTestId('reset-submit'));
    expect(await screen.findByTestId('reset-done')).toHaveTextContent('Your password has been changed');
    expect(screen.getByTestId('where')).toHaveTextContent('/login');
    expect(server.requests.find((r) => r.path === '/auth/password-reset/confirm')?.body).toEqual({ uid: 'MQ', token: 'abc-123', new_password: 'Fresh1234' });
  });

  it('a used or expired link says so and offers a new one; a weak password shows under its field', async () => {
    const user = userEvent.setup();
    let calls = 0;
    renderRoutes([{ path: '/reset-password', element: <ResetPasswordPage /> }], {
      at: '/reset-password?uid=MQ&token=used',
      signedIn: false,
      routes: {
        'POST /auth/password-reset/confirm': () => {
          calls += 1;
          return calls === 1
            ? envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { new_password: ['This password is too common.'] })
            : envelope(400, 'VALIDATION_ERROR', 'Invalid input.', { token: ['This link is invalid or has expired.'] });
        },
      },
    });
    await user.type(screen.getByLabelText('New password'), 'Password1');
    await user.type(screen.getByLabelText('New password again'), 'Password1');
    await user.click(screen.getByTestId('reset-submit'));
    expect(await screen.findByTestId('field-error-new_password')).toHaveTextContent('This password is too common.');
    await user.click(screen.getByTestId('reset-submit'));
    const tokenError = await screen.findByTestId('field-error-token');
    expect(tokenError).toHaveTextContent('This link is invalid or has expired.');
    expect(within(tokenError).getByRole('link', { name: 'Ask for a new link' })).toHaveAttribute('href', '/forgot-password');
  });

  it('a link without its token is incomplete', () => {
    renderRoutes([{ path: '/reset-password', element: <ResetPasswordPage /> }], { at: '/reset-password?uid=MQ', signedIn: false, routes: {} });
    expect(screen.getByRole('alert')).toHaveTextContent('This link is incomplete');
  });
});
