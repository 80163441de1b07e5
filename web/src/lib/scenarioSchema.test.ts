import { describe, expect, it } from 'vitest';
import { SCENARIO_PARAMETERS } from '../api/rules';
import { BASE_STORY_PATTERN, SCENARIO_TYPES, TYPE_SPECS, buildParameters, optionLabel } from './scenarioSchema';

describe('scenario forms follow the API document', () => {
  it('has a form for every scenario type and a field for every parameter, in the contract order', () => {
    expect(SCENARIO_TYPES.map((t) => t.type).sort()).toEqual(Object.keys(SCENARIO_PARAMETERS).sort());
    for (const spec of SCENARIO_TYPES) {
      const rules = SCENARIO_PARAMETERS[spec.type];
      expect(spec.fields.map((f) => f.name)).toEqual(rules.map((r) => r.name));
      // Written words for each (a field without them would be shown by its raw name).
      for (const field of spec.fields) expect(field.label).not.toBe(optionLabel(field.name));
    }
  });

  it('checks the limits the document states', () => {
    const name = TYPE_SPECS.CHARACTER_CHANGE.fields.find((f) => f.name === 'character')!;
    const rule = SCENARIO_PARAMETERS.CHARACTER_CHANGE.find((r) => r.name === 'character')!;
    expect(name.maxLength).toBe('maxLength' in rule ? rule.maxLength : undefined);
    const { errors } = buildParameters('CHARACTER_CHANGE', {
      character: 'x'.repeat((name.maxLength ?? 0) + 1),
      property: 'house',
      new_value: 'Slytherin',
    });
    expect(errors.character).toEqual([`At most ${name.maxLength} characters.`]);
    expect(BASE_STORY_PATTERN.test('pride-and-prejudice')).toBe(true);
    expect(BASE_STORY_PATTERN.test('Pride and Prejudice')).toBe(false);
  });
});
