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

/** A size in words: "512 B", "1.2 KB", "3.4 MB" (1 KB = 1,024 bytes). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0)).toLocaleString()} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
