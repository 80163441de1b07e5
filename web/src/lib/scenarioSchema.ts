/** The scenario parameter schemas of shared-contracts
 * (gaji_contracts/scenarios.py), field for field: required fields, enums,
 * length limits (Name 1-200, Text 1-1000, both stripped), list sizes. The
 * forms are built from these, and the same rules are checked before
 * sending; the server stays the judge (422 PARAMETERS_INVALID with
 * `details` keyed `parameters.<field>[.<index>]`). */

import type { ScenarioParameters, ScenarioType } from './types';

export const NAME_MAX = 200;
export const TEXT_MAX = 1000;
export const BASE_STORY_MAX = 100;
export const BASE_STORY_PATTERN = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;

export type FieldKind = 'name' | 'text' | 'choice' | 'list';

export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  help?: string;
  /** choice: the allowed values. */
  options?: readonly string[];
  /** list: what each item is, and how many items at most. */
  item?: 'name' | 'text';
  maxItems?: number;
}

export interface TypeSpec {
  type: ScenarioType;
  label: string;
  description: string;
  fields: FieldSpec[];
}

export const SCENARIO_TYPES: TypeSpec[] = [
  {
    type: 'CHARACTER_CHANGE',
    label: 'Character change',
    description: 'A character is different: their house, personality, skill or backstory.',
    fields: [
      { name: 'character', label: 'Character', kind: 'name', required: true, help: 'Who changes, e.g. Elizabeth Bennet.' },
      {
        name: 'property',
        label: 'What changes',
        kind: 'choice',
        required: true,
        options: ['house', 'personality', 'skill', 'backstory'],
      },
      { name: 'original_value', label: 'Originally', kind: 'text', required: false },
      { name: 'new_value', label: 'Instead', kind: 'text', required: true },
      { name: 'change_point', label: 'When it changes', kind: 'text', required: false },
      { name: 'ripple_effects', label: 'Ripple effects', kind: 'list', item: 'text', maxItems: 10, required: false },
    ],
  },
  {
    type: 'EVENT_ALTERATION',
    label: 'Event alteration',
    description: 'A key event is prevented, hastened, moved or ends differently.',
    fields: [
      { name: 'event', label: 'Event', kind: 'text', required: true },
      { name: 'timeline_point', label: 'Timeline point', kind: 'name', required: false },
      {
        name: 'alteration_type',
        label: 'Alteration',
        kind: 'choice',
        required: true,
        options: ['prevent', 'accelerate', 'relocate', 'outcome_change'],
      },
      { name: 'original_outcome', label: 'Original outcome', kind: 'text', required: false },
      { name: 'new_outcome', label: 'New outcome', kind: 'text', required: true },
      {
        name: 'affected_characters',
        label: 'Affected characters',
        kind: 'list',
        item: 'name',
        maxItems: 20,
        required: false,
      },
    ],
  },
  {
    type: 'SETTING_MODIFICATION',
    label: 'Setting modification',
    description: 'The world itself changes: a place, the era, magic or technology.',
    fields: [
      {
        name: 'setting_element',
        label: 'Setting element',
        kind: 'choice',
        required: true,
        options: ['location', 'era', 'magic_system', 'technology'],
      },
      { name: 'scope', label: 'Scope', kind: 'choice', required: true, options: ['global', 'regional', 'local'] },
      { name: 'change_description', label: 'What changes', kind: 'text', required: true },
      { name: 'impact_level', label: 'Impact', kind: 'choice', required: true, options: ['minor', 'moderate', 'major'] },
    ],
  },
];

export const TYPE_SPECS: Record<ScenarioType, TypeSpec> = Object.fromEntries(
  SCENARIO_TYPES.map((spec) => [spec.type, spec]),
) as Record<ScenarioType, TypeSpec>;

export function typeLabel(type: string): string {
  return (TYPE_SPECS as Record<string, TypeSpec | undefined>)[type]?.label ?? type;
}

export function optionLabel(value: string): string {
  return value.replace(/_/g, ' ');
}

export function maxLength(kind: 'name' | 'text'): number {
  return kind === 'name' ? NAME_MAX : TEXT_MAX;
}

/** Form state: text fields as strings, lists as arrays of strings. */
export type FormValues = Record<string, string | string[]>;

export function emptyValues(type: ScenarioType): FormValues {
  const values: FormValues = {};
  for (const field of TYPE_SPECS[type].fields) values[field.name] = field.kind === 'list' ? [] : '';
  return values;
}

/** Form state from existing parameters (a fork starts from its parent's). */
export function valuesFromParameters(type: ScenarioType, parameters: ScenarioParameters | undefined): FormValues {
  const values = emptyValues(type);
  if (!parameters) return values;
  for (const field of TYPE_SPECS[type].fields) {
    const value = parameters[field.name];
    if (field.kind === 'list') values[field.name] = Array.isArray(value) ? value.map(String) : [];
    else if (typeof value === 'string') values[field.name] = value;
  }
  return values;
}

export type FieldErrors = Record<string, string[]>;

/** The parameters to send (stripped, empty optionals dropped, empty list
 * items dropped) and the problems found, keyed by field name. */
export function buildParameters(type: ScenarioType, values: FormValues): { parameters: ScenarioParameters; errors: FieldErrors } {
  const parameters: ScenarioParameters = {};
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  for (const field of TYPE_SPECS[type].fields) {
    const raw = values[field.name];
    if (field.kind === 'list') {
      const items = (Array.isArray(raw) ? raw : []).map((v) => v.trim()).filter(Boolean);
      const limit = maxLength(field.item ?? 'text');
      if (field.maxItems !== undefined && items.length > field.maxItems) add(field.name, `At most ${field.maxItems} items.`);
      items.forEach((item, index) => {
        if (item.length > limit) add(field.name, `Item ${index + 1}: at most ${limit} characters.`);
      });
      if (items.length) parameters[field.name] = items;
      continue;
    }
    const value = (typeof raw === 'string' ? raw : '').trim();
    if (!value) {
      if (field.required) add(field.name, field.kind === 'choice' ? 'Choose one.' : 'Required.');
      continue;
    }
    if (field.kind === 'choice') {
      if (!field.options?.includes(value)) add(field.name, `Must be one of: ${field.options?.join(', ')}.`);
    } else {
      const limit = maxLength(field.kind);
      if (value.length > limit) add(field.name, `At most ${limit} characters.`);
    }
    parameters[field.name] = value;
  }
  return { parameters, errors };
}

export function checkBaseStory(slug: string): string | null {
  const value = slug.trim();
  if (!value) return 'Required.';
  if (value.length > BASE_STORY_MAX) return `At most ${BASE_STORY_MAX} characters.`;
  if (!BASE_STORY_PATTERN.test(value)) return 'Use a slug such as pride-and-prejudice (lowercase letters, digits, - or _).';
  return null;
}

/** Server `details` (`parameters.character`, `parameters.ripple_effects.2`,
 * `base_story`, ...) as errors per form field; `parameters.<unknown>` and
 * bare `parameters` go under `parameters`. */
export function mapServerErrors(type: ScenarioType | null, details: FieldErrors): FieldErrors {
  const out: FieldErrors = {};
  const known = new Set(type ? TYPE_SPECS[type].fields.map((f) => f.name) : []);
  for (const [path, messages] of Object.entries(details)) {
    const parts = path.split('.');
    let key = path;
    let prefix = '';
    if (parts[0] === 'parameters' && parts.length > 1) {
      if (known.has(parts[1])) {
        key = parts[1];
        const index = parts[2];
        if (index !== undefined && /^\d+$/.test(index)) prefix = `Item ${Number(index) + 1}: `;
      } else {
        key = 'parameters';
        prefix = `${parts.slice(1).join('.')}: `;
      }
    }
    (out[key] ??= []).push(...messages.map((m) => prefix + m));
  }
  return out;
}

/** A one-line summary of a scenario's parameters (cards, tree labels). */
export function summarize(type: string | undefined, parameters: ScenarioParameters | undefined): string {
  const p = parameters ?? {};
  const s = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : '');
  switch (type) {
    case 'CHARACTER_CHANGE':
      return `${s('character') || 'Someone'}: ${optionLabel(s('property'))} → ${s('new_value')}`.trim();
    case 'EVENT_ALTERATION':
      return `${optionLabel(s('alteration_type'))}: ${s('event')}${s('new_outcome') ? ` → ${s('new_outcome')}` : ''}`;
    case 'SETTING_MODIFICATION':
      return `${optionLabel(s('setting_element'))} (${s('scope')}, ${s('impact_level')}): ${s('change_description')}`;
    default:
      return type ?? 'Scenario';
  }
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1)).trimEnd()}…`;
}
