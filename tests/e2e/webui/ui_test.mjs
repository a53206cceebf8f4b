// Drives the web UI in Debian's headless Chromium (playwright-core) and prints what it saw as one
// JSON line ("REPORT {...}"); tests/e2e/test_webui.py starts the servers and judges the report.
//
// usage: node ui_test.mjs SCENARIO BASE_URL '{"json": "parameters"}'
//   chat: model list, a streamed reply, speed, Enter/Shift+Enter, a 400 shown, Stop, a crafted
//         stream (reasoning, tool calls, hostile Markdown) rendered safely
//   auth: the server wants an API key: the UI asks, rejects a wrong one, works with the right one
import { chromium } from 'playwright-core';

const [scenario, base, paramText] = process.argv.slice(2);
const params = JSON.parse(paramText || '{}');
const origin = new URL(base).origin;
const report = { scenario, consoleErrors: [], foreignRequests: [], requests: 0 };

function watch(page) {
  page.on('console', (m) => { if (m.type() === 'error') report.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => report.consoleErrors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    ++report.requests;
    if (new URL(r.url()).origin !== origin) report.foreignRequests.push(r.url());
    if (r.method() === 'POST' && r.url().endsWith('/v1/chat/completions')) {
      (report.chatRequests ||= []).push(r.postDataJSON());
    }
  });
  page.on('response', (r) => {
    if (r.url().endsWith('/v1/chat/completions') && r.status() === 200 && !report.chatResponseType) {
      report.chatResponseType = r.headers()['content-type'];
    }
  });
}

async function metrics() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sum = (name) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { running: sum('localmax_requests_running'), tokens: sum('localmax_completion_tokens_total') };
}

async function setSetting(page, id, value) {
  if (await page.locator('#settings').isHidden()) await page.click('#settings-toggle');
  await page.fill(`#${id}`, String(value));
  await page.dispatchEvent(`#${id}`, 'change');
}

// Sends the prompt with the Enter key and waits for the reply's stats line.
async function sendAndWait(page, prompt) {
  const before = await page.locator('.msg.assistant .stats').count();
  await page.fill('#prompt', prompt);
  await page.press('#prompt', 'Enter');
  await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant .stats').length > n,
    before, { timeout: 120000 });
}

// Counts the distinct lengths the newest reply's text went through (more than one: it streamed).
async function watchStreaming(page) {
  await page.evaluate(() => {
    window.__lengths = new Set();
    new MutationObserver(() => {
      const all = document.querySelectorAll('.msg.assistant .content');
      if (all.length) window.__lengths.add(all[all.length - 1].textContent.length);
    }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
  });
}

async function chatScenario(page) {
  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 30000 });
  report.models = await page.$$eval('#model option', (os) => os.map((o) => o.value));
  report.title = await page.title();
  await setSetting(page, 'temperature', 0);
  await setSetting(page, 'max-tokens', params.max_tokens);

  // Shift+Enter is a newline, not a send.
  await page.fill('#prompt', 'a');
  await page.press('#prompt', 'Shift+Enter');
  await page.keyboard.type('b');
  report.shiftEnterValue = await page.inputValue('#prompt');
  report.shiftEnterSent = await page.locator('.msg.user').count();

  // A streamed reply, equal to the API's answer to the same request.
  await watchStreaming(page);
  await sendAndWait(page, params.prompt);
  report.reply = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/markdown.mjs');
    const msgs = window.localmax.messages;
    const last = msgs[msgs.length - 1];
    const views = document.querySelectorAll('.msg.assistant');
    const view = views[views.length - 1];
    const stats = view.querySelector('.stats');
    return {
      raw: last.content, role: last.role, html: view.querySelector('.content').innerHTML,
      // Through a DOM round trip, as innerHTML serialises entities its own way.
      htmlOfRaw: Object.assign(document.createElement('div'), { innerHTML: renderMarkdown(last.content) }).innerHTML, stats: stats.textContent, tps: Number(stats.dataset.tps),
      tokens: Number(stats.dataset.tokens), ttftMs: Number(stats.dataset.ttftMs),
      distinctLengths: window.__lengths.size, userText: document.querySelector('.msg.user .content').textContent,
    };
  });

  // A second turn sends the whole conversation, with a system prompt from the settings.
  await setSetting(page, 'system', 'You tell short stories.');
  await sendAndWait(page, 'And then?');
  report.secondTurn = { request: report.chatRequests.at(-1), shown: await page.locator('.msg').count() };
  await setSetting(page, 'system', '');

  // A refused request (prompt longer than the context): the server's message is shown.
  await page.click('#new-chat');
  await page.fill('#prompt', params.long_prompt);
  await page.press('#prompt', 'Enter');
  await page.waitForSelector('#error:not([hidden])', { timeout: 60000 });
  report.error = { text: await page.textContent('#error'), promptKept: (await page.inputValue('#prompt')) === params.long_prompt,
    userMessages: await page.locator('.msg.user').count() };

  // Stop as soon as the reply's stream is open (its first event came; clicked from inside the page,
  // so no round trip delays it): the demo model writes its whole reply in ~50 ms, faster than a
  // frame or two, so waiting for rendered text would often find the reply already complete.
  await page.click('#new-chat');
  await setSetting(page, 'max-tokens', params.stop_max_tokens);
  const before = await metrics();
  await page.evaluate(() => {
    new MutationObserver((_, obs) => {
      const c = document.querySelector('.msg.assistant .content');
      if (c) {
        obs.disconnect();
        window.__textAtStop = c.textContent.length;
        document.getElementById('stop').click();
      }
    }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
  });
  await sendAndWait(page, params.stop_prompt);
  const t0 = Date.now();
  let after = await metrics();
  while (after.running > 0 && Date.now() - t0 < 5000) {
    await new Promise((r) => setTimeout(r, 50));
    after = await metrics();
  }
  report.stop = {
    stoppedShown: await page.locator('.msg.assistant .stats.stopped').count(),
    sendBack: await page.locator('#send').isVisible(), stopHidden: await page.locator('#stop').isHidden(),
    freedMs: Date.now() - t0, running: after.running, tokens: after.tokens - before.tokens,
    errorHidden: await page.locator('#error').isHidden(), textAtStop: await page.evaluate(() => window.__textAtStop),
    stoppedText: await page.evaluate(() => window.localmax.messages.at(-1)),
  };

  // A crafted stream: reasoning (collapsed), tool calls (JSON), hostile Markdown (inert).
  await page.click('#new-chat');
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream' }, body: params.crafted_sse }));
  await sendAndWait(page, 'show me');
  await page.unroute('**/v1/chat/completions');
  report.crafted = await page.evaluate(() => {
    const view = document.querySelector('.msg.assistant');
    const details = view.querySelector('details.reasoning');
    const pre = view.querySelector('pre.tool-calls');
    return {
      reasoning: details && details.querySelector('.reasoning-text').textContent, reasoningOpen: details && details.open,
      toolCalls: pre && JSON.parse(pre.textContent), contentText: view.querySelector('.content').textContent,
      injected: view.querySelectorAll('img, script, iframe, svg, [onerror], [onclick]').length,
      links: [...view.querySelectorAll('a')].map((a) => a.getAttribute('href')), pwned: window.__pwned === true,
      strong: view.querySelectorAll('.content strong').length, code: view.querySelectorAll('.content pre code').length,
    };
  });
}

async function authScenario(page) {
  await page.goto(base + '/');
  await page.waitForSelector('#key-dialog[open]', { timeout: 30000 });
  report.dialogShown = true;
  report.modelsBeforeKey = await page.locator('#model option').count();
  await page.fill('#key-input', 'wrong-key');
  await page.press('#key-input', 'Enter');
  await page.waitForSelector('#key-error:not([hidden])', { timeout: 30000 });
  report.wrongKeyRejected = await page.locator('#key-dialog[open]').count() === 1;
  await page.fill('#key-input', params.key);
  await page.press('#key-input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 30000 });
  report.models = await page.$$eval('#model option', (os) => os.map((o) => o.value));
  report.storedKey = await page.evaluate(() => localStorage.getItem('localmax.apiKey'));
  await setSetting(page, 'temperature', 0);
  await setSetting(page, 'max-tokens', 8);
  await sendAndWait(page, params.prompt);
  report.replyWithKey = await page.evaluate(() => window.localmax.messages.at(-1).content);
  // 401s of the key dance are expected console errors ("Failed to load resource"); drop them.
  report.consoleErrors = report.consoleErrors.filter((e) => !/401/.test(e));
}

const browser = await chromium.launch({ executablePath: params.chromium || '/usr/bin/chromium',
  args: ['--no-sandbox'] });
try {
  const page = await (await browser.newContext()).newPage();
  watch(page);
  if (scenario === 'chat') await chatScenario(page);
  else if (scenario === 'auth') await authScenario(page);
  else throw new Error(`unknown scenario ${scenario}`);
} catch (e) {
  report.exception = String(e.stack || e);
} finally {
  await browser.close();
}
console.log('REPORT ' + JSON.stringify(report));
