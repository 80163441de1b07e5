/** Markdown for model answers, user messages and memos. Nobody's text may
 * inject HTML: raw HTML in the source is shown as text (escaped by the
 * renderer), and DOMPurify cleans the output as a second line of defence
 * (no scripts, event handlers, images, forms, styles or javascript: URLs). */

import DOMPurify from 'dompurify';
import { Marked } from 'marked';

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // Raw HTML blocks and inline tags: as text, never as markup.
    html({ text }) {
      return escapeHtml(text);
    },
    // Images would load third-party URLs (tracking) from anyone's text: alt text only.
    image({ text }) {
      return escapeHtml(text);
    },
  },
});

const FORBID_TAGS = ['img', 'style', 'script', 'iframe', 'object', 'embed', 'form', 'input', 'button', 'textarea', 'select', 'svg', 'math', 'video', 'audio', 'source', 'link', 'meta', 'base'];
const FORBID_ATTR = ['style', 'srcset', 'formaction'];

let hooked = false;
function addHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  });
}

/** Sanitized HTML for `source` (safe for dangerouslySetInnerHTML). */
export function renderMarkdown(source: string): string {
  addHooks();
  const html = marked.parse(source ?? '') as string;
  return DOMPurify.sanitize(html, {
    FORBID_TAGS,
    FORBID_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  });
}
