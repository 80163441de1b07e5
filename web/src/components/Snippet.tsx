/** A search hit's snippet. The server may mark the matched words
 * (`<mark>…</mark>` or `<b>…</b>`, as Postgres' ts_headline does); they are
 * shown marked, and every other tag is dropped — nothing is rendered as HTML. */

const MARK = /<(mark|b|strong|em)>([\s\S]*?)<\/\1>/gi;

export interface SnippetPart {
  text: string;
  marked: boolean;
}

function stripTags(text: string): string {
  return text.replace(/<[^>]*>/g, '');
}

export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let last = 0;
  for (const match of snippet.matchAll(MARK)) {
    const start = match.index ?? 0;
    if (start > last) parts.push({ text: stripTags(snippet.slice(last, start)), marked: false });
    parts.push({ text: stripTags(match[2]), marked: true });
    last = start + match[0].length;
  }
  if (last < snippet.length) parts.push({ text: stripTags(snippet.slice(last)), marked: false });
  return parts.filter((p) => p.text);
}

export function Snippet({ text }: { text: string }) {
  return (
    <span className="snippet" data-testid="snippet">
      {snippetParts(text).map((part, i) => (part.marked ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
    </span>
  );
}
