import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Markdown } from '../components/common';
import { renderMarkdown } from './markdown';

/** The rendered HTML as DOM, to look for what must not be there. */
function dom(source: string): HTMLElement {
  const container = document.createElement('div');
  container.innerHTML = renderMarkdown(source);
  return container;
}

function handlerAttributes(root: HTMLElement): string[] {
  return [...root.querySelectorAll('*')].flatMap((el) => el.getAttributeNames().filter((name) => name.toLowerCase().startsWith('on')));
}

describe('renderMarkdown', () => {
  it('renders ordinary Markdown', () => {
    const html = renderMarkdown('**Mr. Darcy** said _no_.\n\n- one\n- two\n\n[Gutenberg](https://www.gutenberg.org)');
    expect(html).toContain('<strong>Mr. Darcy</strong>');
    expect(html).toContain('<em>no</em>');
    expect(html).toContain('<li>one</li>');
    expect(html).toMatch(/<a href="https:\/\/www\.gutenberg\.org"[^>]*rel="noopener noreferrer nofollow"/);
  });

  it('never lets an image with an event handler through', () => {
    const html = renderMarkdown('Look <img src=x onerror=alert(1)> here');
    expect(html).not.toMatch(/<img/i);
    const root = dom('<img src=x onerror=alert(1)>');
    expect(root.querySelector('img')).toBeNull();
    expect(handlerAttributes(root)).toEqual([]);

    const { container } = render(<Markdown text={'<img src=x onerror=alert(1)>'} />);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    // It is shown as the text that was typed, which runs nothing.
    expect(container.textContent).toContain('<img src=x onerror=alert(1)>');
  });

  it('never lets a script through', () => {
    const html = renderMarkdown('<script>alert(1)</script>\n\nhello <script src="https://evil.test/x.js"></script>');
    expect(html).not.toMatch(/<script/i);
    expect(dom('<script>alert(1)</script>').querySelector('script')).toBeNull();
    const { container } = render(<Markdown text={'<script>alert(1)</script>'} />);
    expect(container.querySelector('script')).toBeNull();
    expect(container.textContent).toContain('<script>alert(1)</script>');
  });

  it('drops javascript: links, inline handlers, styles, iframes and Markdown images', () => {
    const root = dom(
      '[click](javascript:alert(1)) <a href="javascript:alert(2)" onclick="x()">a</a> <iframe src="https://evil.test"></iframe> <b style="color:red">b</b> ![pixel](https://tracker.test/p.gif)',
    );
    const hrefs = [...root.querySelectorAll('a')].map((a) => a.getAttribute('href'));
    expect(hrefs.filter((h) => h && /javascript:/i.test(h))).toEqual([]);
    expect(handlerAttributes(root)).toEqual([]);
    expect(root.querySelector('iframe, img, [style]')).toBeNull();
    expect(root.innerHTML).not.toContain('tracker.test');
  });

  it('sanitizes SVG and data: URL payloads', () => {
    const root = dom('<svg onload=alert(1)><circle/></svg> [x](data:text/html;base64,PHNjcmlwdD4=)');
    expect(root.querySelector('svg')).toBeNull();
    expect(handlerAttributes(root)).toEqual([]);
    expect(root.querySelector('a[href^="data:"]')).toBeNull();
  });
});
