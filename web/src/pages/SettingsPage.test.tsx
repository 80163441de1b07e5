import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { envelope, json, renderRoutes, type Handler } from '../test/harness';
import type { UserSettings } from '../lib/types';
import { SettingsPage } from './SettingsPage';

const DEFAULTS: UserSettings = {
  default_model: null,
  temperature: null,
  max_tokens: null,
  response_style: 'balanced',
  persona_name: '',
  default_visibility: 'public',
};

function renderSettings(initial: Partial<UserSettings> = {}, put?: Handler) {
  const state = { settings: { ...DEFAULTS, ...initial } };
  const view = renderRoutes([{ path: '/settings', element: <SettingsPage /> }], {
    at: '/settings',
    routes: {
      'GET /users/me/settings': () => json(200, state.settings),
      'PUT /users/me/settings': put ?? (({ body }) => {
        state.settings = { ...state.settings, ...(body as Partial<UserSettings>) };
        return json(200, state.settings);
      }),
      'GET /ai/models': () => json(200, { provider: 'local', default: 'qwen2.5-0.5b', models: ['qwen2.5-0.5b', 'llama-3.2-1b'] }),
    },
  });
  return { ...view, state };
}

describe('<SettingsPage>', () => {
  it('loads the settings: service defaults shown as such, models from ai', async () => {
    renderSettings({ temperature: 0.7, response_style: 'concise', persona_name: 'Lizzy', default_visibility: 'private' });
    const model = await screen.findByTestId('settings-model');
    await waitFor(() => expect(screen.getByRole('option', { name: 'llama-3.2-1b' })).toBeInTheDocument());
    expect(model).toHaveValue('');
    expect(screen.getByRole('option', { name: 'Service default (qwen2.5-0.5b)' })).toBeInTheDocument();
    expect(screen.getByTestId('settings-temperature-default')).not.toBeChecked();
    expect(screen.getByTestId('settings-temperature')).toHaveValue(0.7);
    expect(screen.getByTestId('settings-max-tokens-default')).toBeChecked();
    expect(screen.getByTestId('settings-max-tokens')).toBeDisabled();
    expect(screen.getByLabelText(/Concise/)).toBeChecked();
    expect(screen.getByTestId('settings-persona')).toHaveValue('Lizzy');
    expect(screen.getByTestId('settings-visibility')).toHaveValue('private');
    expect(screen.getByText('Only you can see it.')).toBeInTheDocument();
  });

  it('saves every setting, "Service default" as null, and says Saved', async () => {
    const user = userEvent.setup();
    const { server, state } = renderSettings({ default_model: 'llama-3.2-1b', temperature: 0.7 });
    await screen.findByTestId('settings-form');
    await waitFor(() => expect(screen.getByTestId('settings-model')).toHaveValue('llama-3.2-1b'));
    await user.selectOptions(screen.getByTestId('settings-model'), '');
    await user.click(screen.getByTestId('settings-temperature-default'));
    await user.click(screen.getByTestId('settings-max-tokens-default'));
    await user.clear(screen.getByTestId('settings-max-tokens'));
    await user.type(screen.getByTestId('settings-max-tokens'), '300');
    await user.click(screen.getByLabelText(/Detailed/));
    await user.type(screen.getByTestId('settings-persona'), '  Miss Lucas ');
    await user.selectOptions(screen.getByTestId('settings-visibility'), 'unlisted');
    await user.click(screen.getByTestId('settings-save'));
    await waitFor(() => expect(screen.getByTestId('settings-status')).toHaveTextContent('Saved'));
    expect(server.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      default_model: null,
      temperature: null,
      max_tokens: 300,
      response_style: 'detailed',
      persona_name: 'Miss Lucas',
      default_visibility: 'unlisted',
    });
    expect(state.settings.max_tokens).toBe(300);
    // What the server answered is what the form shows.
    expect(screen.getByTestId('settings-persona')).toHaveValue('Miss Lucas');
  });

  it('checks the ranges before sending', async () => {
    const user = userEvent.setup();
    const { server } = renderSettings({ temperature: 1 });
    const temperature = await screen.findByTestId('settings-temperature');
    await user.clear(temperature);
    await user.type(temperature, '2.5');
    await user.click(screen.getByTestId('settings-max-tokens-default'));
    await user.clear(screen.getByTestId('settings-max-tokens'));
    await user.type(screen.getByTestId('settings-max-tokens'), '8');
    await user.click(screen.getByTestId('settings-save'));
    expect(await screen.findByTestId('field-error-temperature')).toHaveTextContent('Between 0 and 2.');
    expect(screen.getByTestId('field-error-max_tokens')).toHaveTextContent('16 to 1024');
    expect(server.requests.some((r) => r.method === 'PUT')).toBe(false);
  });

  it("shows the server's 400 under its field", async () => {
    const user = userEvent.setup();
    renderSettings({}, () =>
      envelope(400, 'INVALID_MODEL', 'That model is not offered.', { default_model: ['"gone-model" is not a model the service offers.'] }),
    );
    await screen.findByTestId('settings-form');
    await waitFor(() => expect(screen.getByRole('option', { name: 'llama-3.2-1b' })).toBeInTheDocument());
    await user.selectOptions(screen.getByTestId('settings-model'), 'llama-3.2-1b');
    await user.click(screen.getByTestId('settings-save'));
    const error = await screen.findByTestId('field-error-default_model');
    expect(error).toHaveTextContent('is not a model the service offers');
    expect(screen.getByTestId('settings-model')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('settings-model').getAttribute('aria-describedby')).toContain(error.id);
    expect(screen.getByTestId('settings-status')).toHaveTextContent('');
  });

  it('needs a session', async () => {
    renderRoutes([{ path: '/settings', element: <SettingsPage /> }], { at: '/settings', signedIn: false, routes: {} });
    expect(await screen.findByRole('heading', { name: 'Log in needed' })).toBeInTheDocument();
  });
});
