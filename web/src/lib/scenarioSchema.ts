/** The scenario forms: their words (labels, help) are written here; their
 * rules (fields and order, required, choices, lengths, list sizes, the
 * base_story slug) come from core's API document through the generated
 * src/api/rules.ts, so they follow the shared-contracts models. The same rules
 * are checked before sending; the server stays the judge (422
 * PARAMETERS_INVALID with `details` keyed `parameters.<field>[.<index>]`). */

import { BASE_STORY, SCENARIO_PARAMETERS } from '../api/rules';
import type { ScenarioParameters, ScenarioType } from './types';

export const BASE_STORY_MAX = BASE_STORY.maxLength;
export const BASE_STORY_PATTERN = new RegExp(BASE_STORY.pattern);

export type FieldKind = 'name' | 'text' | 'choice' | 'list';

export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  help?: string;
  /** name/text: at most this many characters (a list: each item). */
  maxLength?: number;
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

interface Words {
  label: string;
  description: string;
  fields: Record<string, { label: string; help?: string }>;
}

/** A text of at most this many characters is a one-line input ("name"); a longer one a text area. */
const ONE_LINE_MAX = 200;

const WORDS: Record<ScenarioType, Words> = {
  CHARACTER_CHANGE: {
    label: 'Character change',
    description: 'A character is different: their house, personality, skill or backstory.',
    fields: {
      character: { label: 'Character', help: 'Who changes, e.g. Elizabeth Bennet.' },
      property: { label: 'What changes' },
      original_value: { label: 'Originally' },
      new_value: { label: 'Instead' },
      change_point: { label: 'When it changes' },
      ripple_effects: { label: 'Ripple effects' },
    },
  },
  EVENT_ALTERATION: {
    label: 'Event alteration',
    description: 'A key event is prevented, hastened, moved or ends differently.',
    fields: {
      event: { label: 'Event' },
      timeline_point: { label: 'Timeline point' },
      alteration_type: { label: 'Alteration' },
      original_outcome: { label: 'Original outcome' },
      new_outcome: { label: 'New outcome' },
      affected_characters: { label: 'Affected characters' },
    },
  },
  SETTING_MODIFICATION: {
    label: 'Setting modification',
    description: 'The world itself changes: a place, the era, magic or technology.',
    fields: {
      setting_element: { label: 'Setting element' },
      scope: { label: 'Scope' },
      change_description: { label: 'What changes' },
      impact_level: { label: 'Impact' },
    },
  },
};

interface FieldRule {
  name: string;
  required: boolean;
  maxLength?: number;
  options?: readonly string[];
  maxItems?: number;
  itemMaxLength?: number;
}

function textKind(maxLength: number | undefined): 'name' | 'text' {
  return maxLength !== undefined && maxLength <= ONE_LINE_MAX ? 'name' : 'text';
}

function fieldSpec(rule: FieldRule, words: Words): FieldSpec {
  // A field the contract has and these words do not still gets a form field, named as sent.
  const { label, help } = words.fields[rule.name] ?? { label: optionLabel(rule.name) };
  const base = { name: rule.name, label, help, required: rule.required };
  if (rule.options) return { ...base, kind: 'choice', options: rule.options };
  if (rule.maxItems !== undefined || rule.itemMaxLength !== undefined) {
    return { ...base, kind: 'list', item: textKind(rule.itemMaxLength), maxItems: rule.maxItems, maxLength: rule.itemMaxLength };
  }
  return { ...base, kind: textKind(rule.maxLength), maxLength: rule.maxLength };
}

export const SCENARIO_TYPES: TypeSpec[] = (Object.keys(WORDS) as ScenarioType[]).map((type) => ({
  type,
  label: WORDS[type].label,
  description: WORDS[type].description,
  fields: (SCENARIO_PARAMETERS[type] as readonly FieldRule[]).map((rule) => fieldSpec(rule, WORDS[type])),
}));

export const TYPE_SPECS: Record<ScenarioType, TypeSpec> = Object.fromEntries(
  SCENARIO_TYPES.map((spec) => [spec.type, spec]),
) as Record<ScenarioType, TypeSpec>;

export function typeLabel(type: string): string {
  return (TYPE_SPECS as Record<string, TypeSpec | undefined>)[type]?.label ?? type;
}

export function optionLabel(value: string): string {
  return value.replace(/_/g, ' ');
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
      const limit = field.maxLength ?? Infinity;
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
      const limit = field.maxLength ?? Infinity;
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
