// Unit tests of the web UI's Markdown renderer (src/server/webui/markdown.mjs), run with node by
// tests/e2e/test_webui_markdown.py. Prints "ok: ..." / "FAIL: ..." lines; exit 1 on any failure.
//
// The safety checks parse the output with a small tag scanner: every tag must be one the renderer
// emits, with only the attributes it emits, and every href must be http(s).
import { renderMarkdown, escapeHtml } from '../../../src/server/webui/markdown.mjs';

let failures = 0;
function check(cond, msg) {
  console.log(`${cond ? 'ok' : 'FAIL'}: ${msg}`);
  if (!cond) ++failures;
}
function eq(input, want) {
  const got = renderMarkdown(input);
  check(got === want, `${JSON.stringify(input).slice(0, 60)} → ${JSON.stringify(want).slice(0, 80)}` +
    (got === want ? '' : `, got ${JSON.stringify(got).slice(0, 300)}`));
}

const ALLOWED_TAGS = new Set(['p', 'br', 'strong', 'em', 'code', 'pre', 'a', 'ul', 'ol', 'li',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'hr']);
const ALLOWED_ATTRS = { a: ['href', 'target', 'rel'], code: ['class'], ol: ['start'] };

// Every '<' of the output starts a tag the renderer made; every attribute is allowed and quoted.
function safe(html) {
  const tag = /<(\/?)([a-z0-9]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>/gy;
  let i = 0;
  for (;;) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return true;
    tag.lastIndex = lt;
    const m = tag.exec(html);
    if (!m || !ALLOWED_TAGS.has(m[2])) return `bad tag at ${lt}: ${html.slice(lt, lt + 60)}`;
    for (const [, name, value] of m[3].matchAll(/([a-z-]+)="([^"]*)"/g)) {
      if (!(ALLOWED_ATTRS[m[2]] || []).includes(name)) return `bad attribute ${name} on <${m[2]}>`;
      if (name === 'href' && !/^https?:\/\//i.test(value)) return `bad href ${value}`;
      if (name === 'class' && !/^language-[\w+#.-]*$/.test(value)) return `bad class ${value}`;
    }
    i = tag.lastIndex;
  }
}
function checkSafe(input, label) {
  const t0 = performance.now();
  const html = renderMarkdown(input);
  const ms = performance.now() - t0;
  const verdict = safe(html);
  check(verdict === true, `${label}: no injected markup${verdict === true ? '' : ` (${verdict})`}`);
  return { html, ms };
}

// ---- formatting ----------------------------------------------------------------------------
eq('hello', '<p>hello</p>');
eq('one\ntwo\n\nthree', '<p>one<br>two</p>\n<p>three</p>');
eq('# Title', '<h1>Title</h1>');
eq('### Three ###', '<h3>Three</h3>');
eq('## C#', '<h2>C#</h2>');
eq('#nospace', '<p>#nospace</p>');
eq('**bold** and *it* and __b2__ and _i2_', '<p><strong>bold</strong> and <em>it</em> and <strong>b2</strong> and <em>i2</em></p>');
eq('snake_case_name stays', '<p>snake_case_name stays</p>');
eq('2 * 3 * 4', '<p>2 * 3 * 4</p>');
eq('use `a < b && c` here', '<p>use <code>a &lt; b &amp;&amp; c</code> here</p>');
eq('`**not bold**`', '<p><code>**not bold**</code></p>');
eq('```js\nlet x = 1 < 2;\n\n*y*\n```\nafter', '<pre><code class="language-js">let x = 1 &lt; 2;\n\n*y*</code></pre>\n<p>after</p>');
eq('~~~\ncode\n~~~', '<pre><code>code</code></pre>');
eq('````\n```\ninner\n```\n````', '<pre><code>```\ninner\n```</code></pre>');
eq('- a\n- **b**\n* c', '<ul><li>a</li><li><strong>b</strong></li><li>c</li></ul>');
eq('1. one\n2. two', '<ol><li>one</li><li>two</li></ol>');
eq('3) three\n4) four', '<ol start="3"><li>three</li><li>four</li></ol>');
eq('- item\n  continued', '<ul><li>item<br>continued</li></ul>');
eq('text\n- list', '<p>text</p>\n<ul><li>list</li></ul>');
eq('> quoted *x*\n> more', '<blockquote><p>quoted <em>x</em><br>more</p></blockquote>');
eq('---', '<hr>');
eq('[site](https://example.com/a?b=1&c=2)',
   '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">site</a></p>');
eq('see https://example.com/x.', '<p>see <a href="https://example.com/x" target="_blank" rel="noopener noreferrer">https://example.com/x</a>.</p>');
eq('[`code` link](http://a.b)', '<p><a href="http://a.b" target="_blank" rel="noopener noreferrer"><code>code</code> link</a></p>');
eq('', '');
eq('a\r\nb', '<p>a<br>b</p>');
check(escapeHtml(`<&>"'`) === '&lt;&amp;&gt;&quot;&#39;', 'escapeHtml escapes the five characters');

// ---- hostile input ---------------------------------------------------------------------------
eq('<script>alert(1)</script>', '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
eq('<img src=x onerror=alert(1)>', '<p>&lt;img src=x onerror=alert(1)&gt;</p>');
eq('[x](javascript:alert(1))', '<p>[x](javascript:alert(1))</p>');
eq('[x](JaVaScRiPt:alert(1))', '<p>[x](JaVaScRiPt:alert(1))</p>');
eq('[x](data:text/html;base64,PHNjcmlwdD4=)', '<p>[x](data:text/html;base64,PHNjcmlwdD4=)</p>');
eq('[x](https://a.b/"onmouseover="alert(1))', '<p>[x](<a href="https://a.b/&quot;onmouseover=&quot;alert" target="_blank" rel="noopener noreferrer">https://a.b/&quot;onmouseover=&quot;alert</a>(1))</p>');
eq('[x](https://a"b)', '<p><a href="https://a&quot;b" target="_blank" rel="noopener noreferrer">x</a></p>');
eq('```\n<script>x</script>', '<pre><code>&lt;script&gt;x&lt;/script&gt;</code></pre>');
eq('```"><img src=x onerror=alert(1)>\nbody\n```', '<pre><code>body</code></pre>');
eq('\u0000 0\u0000', '<p>\uFFFD 0\uFFFD</p>');
const hostile = [
  ['<script>', '<script>alert(document.cookie)</script>'],
  ['img onerror', '<img src=x onerror="alert(1)">'],
  ['svg onload', '<svg/onload=alert(1)>'],
  ['iframe', '<iframe src="javascript:alert(1)"></iframe>'],
  ['javascript: link', '[click](javascript:alert(1)) [c2](  javascript:alert(1))'],
  ['vbscript/data links', '[a](vbscript:x) [b](data:text/html,<script>alert(1)</script>)'],
  ['attribute breakout', '[a](https://x.y/" onclick="alert(1)) **"><b onmouseover=1>**'],
  ['markdown inside tag', '<a href="**x**">`y`</a>'],
  ['entities', '&lt;script&gt; &#x3C;script&#x3E; &amp;'],
  ['unclosed fence', '```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>'],
  ['fence language breakout', '```js" onclick="alert(1)\nx\n```'],
  ['nested quotes', '> > > <script>x</script>\n> **<b>**'],
  ['placeholder forgery', 'a \u00000\u0000 `c` \u00001\u0000'],
  ['html comment', '<!-- x --><style>*{}</style>'],
];
for (const [label, input] of hostile) checkSafe(input, label);
for (const [label, input] of hostile) {
  const html = renderMarkdown(input);
  check(!/<(script|img|svg|iframe|style|b)\b/i.test(html), `${label}: no raw tag`);
}

// ---- size: 100k-character inputs render fast and safely ------------------------------------------
const N = 100000;
const big = [
  ['100k stars', '*'.repeat(N)],
  ['100k underscores', '_'.repeat(N)],
  ['100k brackets', '['.repeat(N)],
  ['100k link openers', '[a]('.repeat(N / 4)],
  ['100k backticks', '`'.repeat(N)],
  ['100k gt (quotes)', '>'.repeat(N)],
  ['100k hashes', '# '.repeat(N / 2)],
  ['100k lines of list', '- x\n'.repeat(N / 4)],
  ['100k script tags', '<script>'.repeat(N / 8)],
  ['100k alternating', '*_'.repeat(N / 2)],
  ['100k urls', 'https://a.b/'.repeat(N / 12)],
  ['100k mixed', Array.from({ length: N / 10 }, (_, i) => ['**a', '`b', '[c](', 'https://d', '\n']
    [i % 5]).join('')],
  ['unclosed fence 100k', '```\n' + '<img onerror=x>\n'.repeat(N / 16)],
];
for (const [label, input] of big) {
  const { ms } = checkSafe(input, label);
  check(ms < 2000, `${label}: rendered in ${ms.toFixed(0)} ms (< 2000)`);
}

console.log(failures ? `${failures} check(s) failed` : 'all markdown checks passed');
process.exit(failures ? 1 : 0);
