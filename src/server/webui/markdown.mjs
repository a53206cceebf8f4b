// A small Markdown renderer for chat replies (an ES module: the browser UI and node's tests import it).
//
// Safety first: the WHOLE input is HTML-escaped before any Markdown is recognised, so every '<', '>',
// '&', '"' and "'" of the input reaches the output as an entity; the renderer only adds its own fixed
// tags around escaped text. Links keep only http(s) URLs (anything else, javascript: included, stays
// text). Every pattern is linear (no nested quantifiers over the same characters), so hostile input
// (100k '*' or '[') renders in linear time.
//
// Supported: ATX headings, **bold**/__bold__, *italic*/_italic_, `inline code`, fenced code blocks
// (``` or ~~~, with a language tag; an unclosed fence runs to the end), bullet and numbered lists,
// > quotes, --- rules, [links](https://...), bare https:// URLs, paragraphs (single newlines kept).

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Placeholders for finished inline fragments (code spans, links) so later patterns skip them.
// \u0000 cannot appear in the input: it is removed first.
const HOLD = '\u0000';

function renderInline(escaped) {
  const held = [];
  const hold = (html) => `${HOLD}${held.push(html) - 1}${HOLD}`;
  let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  s = s.replace(/\[([^\[\]\n]*)\]\(([^()\s]*)\)/g, (whole, text, url) => {
    if (!/^https?:\/\/[^\s]/i.test(url)) return whole;
    return hold(`<a href="${url}" target="_blank" rel="noopener noreferrer">${text}</a>`);
  });
  s = s.replace(/(^|[\s(])(https?:\/\/[^\s<>()\u0000]+[^\s<>()\u0000.,;:!?])/gi,
    (_, pre, url) => pre + hold(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`));
  s = s.replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^\w])__([^_\n]+)__(?!\w)/g, '$1<strong>$2</strong>');
  s = s.replace(/\*([^*\s][^*\n]*)\*/g, '<em>$1</em>');
  s = s.replace(/(^|[^\w])_([^_\s][^_\n]*)_(?!\w)/g, '$1<em>$2</em>');
  // A link's text may hold a code span: restore recursively (one level in practice).
  const restore = (t) => t.replace(/\u0000(\d+)\u0000/g, (_, i) => restore(held[Number(i)]));
  return restore(s);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*(\S*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const BULLET = /^ {0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}&gt;\s?(.*)$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

// One fenced code block starting at lines[i]; returns [html, next line index].
function renderFence(lines, i) {
  const [, marker, info] = lines[i].match(FENCE);
  const lang = /^[\w+#.-]+$/.test(info) ? info : '';   // the info string's first word, if plain
  const body = [];
  let j = i + 1;
  for (; j < lines.length; ++j) {
    const close = lines[j].match(/^ {0,3}(`{3,}|~{3,})\s*$/);
    if (close && close[1][0] === marker[0] && close[1].length >= marker.length) break;
    body.push(lines[j]);
  }
  const cls = lang ? ` class="language-${lang}"` : '';
  return [`<pre><code${cls}>${body.join('\n')}</code></pre>`, j + 1];
}

// A list of consecutive items of one kind; returns [html, next line index].
function renderList(lines, i, pattern, tag) {
  const items = [];
  let j = i;
  for (; j < lines.length; ++j) {
    const m = lines[j].match(pattern);
    if (m) {
      items.push(m[m.length - 1]);
    } else if (items.length && /^\s{2,}\S/.test(lines[j])) {
      items[items.length - 1] += '\n' + lines[j].trim();   // continuation line of an item
    } else {
      break;
    }
  }
  let open = `<${tag}>`;
  if (tag === 'ol') {
    const start = Number(lines[i].match(NUMBERED)[1]);
    if (start !== 1) open = `<ol start="${start}">`;
  }
  const lis = items.map((t) => `<li>${renderInline(t).replace(/\n/g, '<br>')}</li>`);
  return [`${open}${lis.join('')}</${tag}>`, j];
}

function isBlockStart(line) {
  return FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || NUMBERED.test(line) ||
    QUOTE.test(line) || RULE.test(line);
}

// depth: quote nesting (deeper quotes render as text, so '>' * 100k cannot exhaust the stack).
function renderBlocks(lines, depth = 0) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      ++i;
    } else if (FENCE.test(line)) {
      const [html, next] = renderFence(lines, i);
      out.push(html);
      i = next;
    } else if ((m = line.match(HEADING))) {
      const n = m[1].length;
      out.push(`<h${n}>${renderInline(m[2])}</h${n}>`);
      ++i;
    } else if (RULE.test(line)) {
      out.push('<hr>');
      ++i;
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const [html, next] = BULLET.test(line) ? renderList(lines, i, BULLET, 'ul')
        : renderList(lines, i, NUMBERED, 'ol');
      out.push(html);
      i = next;
    } else if (depth < 8 && QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && (m = lines[i].match(QUOTE)); ++i) quoted.push(m[1]);
      out.push(`<blockquote>${renderBlocks(quoted, depth + 1)}</blockquote>`);
    } else {
      const para = [line];
      for (++i; i < lines.length && lines[i].trim() && !isBlockStart(lines[i]); ++i) para.push(lines[i]);
      out.push(`<p>${renderInline(para.join('\n')).replace(/\n/g, '<br>')}</p>`);
    }
  }
  return out.join('\n');
}

// Markdown text → an HTML string safe to assign to innerHTML.
export function renderMarkdown(text) {
  const escaped = escapeHtml(String(text ?? '').replace(/\u0000/g, '\uFFFD'));
  return renderBlocks(escaped.replace(/\r\n?/g, '\n').split('\n'));
}
