import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../lib/api';
import { SCENARIO_TYPES, TYPE_SPECS, buildParameters, mapServerErrors } from '../lib/scenarioSchema';
import type { ScenarioType } from '../lib/types';
import { novelFixture } from '../test/fixtures';
import { ScenarioForm } from './ScenarioForm';

const novel = novelFixture({ id: 'n1' });

function renderCreate(type: ScenarioType, onSubmit = vi.fn(async () => undefined)) {
  render(<ScenarioForm mode="create" novels={[novel]} initialBaseStory="pride-and-prejudice" initialType={type} onSubmit={onSubmit} />);
  return onSubmit;
}

function field(name: string): HTMLElement {
  const el = document.getElementById(`param-${name}`);
  if (!el) throw new Error(`no field ${name}`);
  return el;
}

describe('the form of each scenario type', () => {
  it.each(SCENARIO_TYPES.map((t) => [t.type]))('%s renders exactly its schema fields with their limits', (type) => {
    renderCreate(type as ScenarioType);
    const spec = TYPE_SPECS[type as ScenarioType];
    const container = document.querySelector(`[data-scenario-type="${type}"]`)!;
    for (const f of spec.fields) {
      if (f.kind === 'list') {
        expect(within(container as HTMLElement).getByText(f.label, { exact: false })).toBeInTheDocument();
        continue;
      }
      const input = field(f.name);
      expect(input).toHaveAttribute('name', f.name);
      if (f.kind === 'name') expect(input).toHaveAttribute('maxlength', '200');
      if (f.kind === 'text') expect(input).toHaveAttribute('maxlength', '1000');
      if (f.kind === 'choice') {
        const options = [...(input as HTMLSelectElement).options].map((o) => o.value).filter(Boolean);
        expect(options).toEqual(f.options);
      }
      if (f.required) expect(input).toBeRequired();
      else expect(input).not.toBeRequired();
    }
    // No field outside the schema.
    const names = [...container.querySelectorAll('[name]')].map((el) => el.getAttribute('name'));
    expect(names.sort()).toEqual(spec.fields.filter((f) => f.kind !== 'list').map((f) => f.name).sort());
  });

  it('CHARACTER_CHANGE sends exactly the filled fields, stripped', async () => {
    const user = userEvent.setup();
    const onSubmit = renderCreate('CHARACTER_CHANGE');
    await user.type(field('character'), '  Elizabeth Bennet ');
    await user.selectOptions(field('property'), 'personality');
    await user.type(field('new_value'), 'Shy and agreeable');
    await user.click(screen.getByTestId('add-ripple_effects'));
    await user.type(document.getElementById('param-ripple_effects-0')!, 'Darcy never notices her');
    await user.click(screen.getByTestId('add-ripple_effects')); // left empty: dropped
    await user.click(screen.getByTestId('scenario-submit'));
    expect(onSubmit).toHaveBeenCalledWith({
      base_story: 'pride-and-prejudice',
      scenario_type: 'CHARACTER_CHANGE',
      parameters: {
        character: 'Elizabeth Bennet',
        property: 'personality',
        new_value: 'Shy and agreeable',
        ripple_effects: ['Darcy never notices her'],
      },
    });
  });

  it('checks required fields before sending', async () => {
    const user = userEvent.setup();
    const onSubmit = renderCreate('EVENT_ALTERATION');
    await user.click(screen.getByTestId('scenario-submit'));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByTestId('field-error-event')).toHaveTextContent('Required.');
    expect(screen.getByTestId('field-error-alteration_type')).toHaveTextContent('Choose one.');
    expect(screen.getByTestId('field-error-new_outcome')).toHaveTextContent('Required.');
    expect(screen.queryByTestId('field-error-timeline_point')).toBeNull();
    expect(field('event')).toHaveAttribute('aria-invalid', 'true');
    expect(field('event')).toHaveAttribute('aria-describedby', expect.stringContaining('field-error-event'));
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Please fix the highlighted fields.');
  });

  it('SETTING_MODIFICATION requires its four fields', async () => {
    const user = userEvent.setup();
    const onSubmit = renderCreate('SETTING_MODIFICATION');
    await user.selectOptions(field('setting_element'), 'era');
    await user.click(screen.getByTestId('scenario-submit'));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.queryByTestId('field-error-setting_element')).toBeNull();
    for (const name of ['scope', 'change_description', 'impact_level']) expect(screen.getByTestId(`field-error-${name}`)).toBeInTheDocument();
  });

  it('enforces list sizes: at most 10 ripple effects, 20 affected characters', async () => {
    const user = userEvent.setup();
    renderCreate('CHARACTER_CHANGE');
    const add = screen.getByTestId('add-ripple_effects');
    for (let i = 0; i < 10; i += 1) await user.click(add);
    expect(add).toBeDisabled();
    expect(document.getElementById('param-ripple_effects-9')).toHaveAttribute('maxlength', '1000');
    expect(TYPE_SPECS.EVENT_ALTERATION.fields.find((f) => f.name === 'affected_characters')?.maxItems).toBe(20);
  });

  it('checks lengths and choices in buildParameters too (pasted text, old values)', () => {
    const { errors } = buildParameters('CHARACTER_CHANGE', {
      character: 'x'.repeat(201),
      property: 'hair colour',
      new_value: 'y'.repeat(1001),
      ripple_effects: Array.from({ length: 11 }, (_, i) => `effect ${i}`),
    });
    expect(errors.character).toEqual(['At most 200 characters.']);
    expect(errors.property?.[0]).toMatch(/Must be one of: house, personality, skill, backstory/);
    expect(errors.new_value).toEqual(['At most 1000 characters.']);
    expect(errors.ripple_effects).toEqual(['At most 10 items.']);
  });

  it('checks the base story slug', async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => undefined);
    render(<ScenarioForm mode="create" novels={[]} initialType="SETTING_MODIFICATION" onSubmit={onSubmit} />);
    await user.type(screen.getByLabelText('Story slug'), 'Not A Slug!');
    await user.click(screen.getByTestId('scenario-submit'));
    expect(screen.getByTestId('field-error-base_story')).toHaveTextContent(/slug/);
    expect(onSubmit).not.toHaveBeenCalled();
  });
});

describe('server errors', () => {
  it('shows 422 PARAMETERS_INVALID details under the right fields', async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => {
      throw new ApiError({
        status: 422,
        code: 'PARAMETERS_INVALID',
        message: 'Parameters do not match the CHARACTER_CHANGE schema: parameters.new_value: String should have at most 1000 characters',
        details: {
          'parameters.new_value': ['String should have at most 1000 characters'],
          'parameters.ripple_effects.1': ['String should have at least 1 character'],
          'parameters.mood': ['Extra inputs are not permitted'],
        },
        traceId: 'trace-42',
      });
    });
    renderCreate('CHARACTER_CHANGE', onSubmit);
    await user.type(field('character'), 'Mr. Collins');
    await user.selectOptions(field('property'), 'skill');
    await user.type(field('new_value'), 'Fencing');
    await user.click(screen.getByTestId('scenario-submit'));
    await waitFor(() => expect(screen.getByTestId('field-error-new_value')).toHaveTextContent('String should have at most 1000 characters'));
    expect(screen.getByTestId('field-error-ripple_effects')).toHaveTextContent('Item 2: String should have at least 1 character');
    expect(screen.getByTestId('field-error-parameters')).toHaveTextContent('mood: Extra inputs are not permitted');
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Parameters do not match');
    expect(screen.getByTestId('error-banner')).toHaveTextContent('trace-42');
    expect(field('new_value')).toHaveAttribute('aria-invalid', 'true');
    // Editing the field clears its error.
    fireEvent.change(field('new_value'), { target: { value: 'Fencing, badly' } });
    expect(screen.queryByTestId('field-error-new_value')).toBeNull();
  });

  it('shows a 400 on base_story or scenario_type under those fields', async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => {
      throw new ApiError({
        status: 400,
        code: 'VALIDATION_ERROR',
        message: 'base_story must be a slug',
        details: { base_story: ['Must be a slug such as pride-and-prejudice.'], scenario_type: ['Must be one of: …'] },
      });
    });
    renderCreate('SETTING_MODIFICATION', onSubmit);
    await user.selectOptions(field('setting_element'), 'magic_system');
    await user.selectOptions(field('scope'), 'global');
    await user.type(field('change_description'), 'Magic is real in Hertfordshire');
    await user.selectOptions(field('impact_level'), 'major');
    await user.click(screen.getByTestId('scenario-submit'));
    await waitFor(() => expect(screen.getByTestId('field-error-base_story')).toHaveTextContent('Must be a slug'));
    expect(screen.getByTestId('field-error-scenario_type')).toBeInTheDocument();
  });

  it('maps detail paths to form fields', () => {
    expect(
      mapServerErrors('EVENT_ALTERATION', {
        'parameters.affected_characters.0': ['too long'],
        'parameters.event': ['Field required'],
        parameters: ['Must be a JSON object.'],
        base_story: ['bad'],
      }),
    ).toEqual({
      affected_characters: ['Item 1: too long'],
      event: ['Field required'],
      parameters: ['Must be a JSON object.'],
      base_story: ['bad'],
    });
  });
});

describe('fork form', () => {
  it('starts from the parent’s parameters and may change the type', async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => undefined);
    render(
      <ScenarioForm
        mode="fork"
        parent={{
          base_story: 'pride-and-prejudice',
          scenario_type: 'EVENT_ALTERATION',
          parameters: { event: 'The Netherfield ball', alteration_type: 'prevent', new_outcome: 'They never meet', affected_characters: ['Darcy'] },
        }}
        onSubmit={onSubmit}
      />,
    );
    expect(field('event')).toHaveValue('The Netherfield ball');
    expect(field('alteration_type')).toHaveValue('prevent');
    expect(document.getElementById('param-affected_characters-0')).toHaveValue('Darcy');
    expect(screen.queryByLabelText('Story slug')).toBeNull(); // a fork keeps the story
    await user.clear(field('new_outcome'));
    await user.type(field('new_outcome'), 'They meet in London instead');
    await user.click(screen.getByTestId('fork-submit'));
    expect(onSubmit).toHaveBeenCalledWith({
      base_story: 'pride-and-prejudice',
      scenario_type: 'EVENT_ALTERATION',
      parameters: { event: 'The Netherfield ball', alteration_type: 'prevent', new_outcome: 'They meet in London instead', affected_characters: ['Darcy'] },
    });
    // Another type gets its own empty form.
    await user.click(screen.getByRole('radio', { name: /Setting modification/ }));
    expect(field('change_description')).toHaveValue('');
  });
});
