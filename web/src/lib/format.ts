import type { MessageSpeaker, PageInfo } from './types';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : dateFormat.format(date);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : dateTimeFormat.format(date);
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

/** "42 results", or "about 1,200 results" when the count is an estimate. */
export function resultCount(page: PageInfo | undefined, noun = 'result'): string {
  if (!page) return '';
  const text = plural(page.total_elements, noun);
  return page.total_is_estimate ? `about ${text}` : text;
}

export function pageCount(page: PageInfo): string {
  const total = Math.max(page.total_pages, 1);
  return page.total_is_estimate ? `${total.toLocaleString()}+` : total.toLocaleString();
}

export function percent(score: number | null | undefined): string {
  return typeof score === 'number' ? `${Math.round(score * 100)}%` : '';
}

/** Who said a message, in words: "You", the character's name or "Narrator"
 * ("Story" for an answer whose speaker is not known). */
export function speakerName(speaker: Pick<MessageSpeaker, 'kind' | 'name'> | null | undefined): string {
  if (!speaker) return 'Story';
  const name = speaker.name.trim();
  if (speaker.kind === 'user') return 'You';
  if (speaker.kind === 'narrator') return name || 'Narrator';
  return name || 'A character';
}
