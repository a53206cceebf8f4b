// localmax chat UI: talks to this server's OpenAI API (GET /v1/models, POST /v1/chat/completions
// with SSE streaming). No dependencies; the page's CSP allows only this server ('self').
//
// Safety: model output reaches innerHTML only through renderMarkdown (which escapes everything
// first); every other text (user messages, reasoning, tool calls, errors) is set with textContent.
import { renderMarkdown } from './markdown.mjs';

const $ = (id) => document.getElementById(id);
const KEY_STORE = 'localmax.apiKey';
const SETTINGS_STORE = 'localmax.settings';

// The conversation (what is sent back to the model) and the request in flight.
const state = { messages: [], controller: null, apiKey: localStorage.getItem(KEY_STORE) || '' };
// Read-only view for the browser console and the UI test (tests/e2e/webui/ui_test.mjs).
window.localmax = { get messages() { return structuredClone(state.messages); } };

// ---- API access ---------------------------------------------------------------------------------

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (state.apiKey) h.Authorization = `Bearer ${state.apiKey}`;
  return h;
}

// The message of an error response body (OpenAI's {"error": {"message"}}), else the status text.
async function errorMessage(res) {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && body.error) return typeof body.error === 'string' ? body.error : body.error.message;
  } catch { /* not JSON */ }
  return `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 500)}` : ''}`;
}

// Shows the key dialog; resolves once a key was entered (and stored).
function askForKey(rejected) {
  const dialog = $('key-dialog');
  $('key-error').hidden = !rejected;
  $('key-input').value = '';
  return new Promise((resolve) => {
    $('key-form').onsubmit = (e) => {
      e.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      state.apiKey = key;
      localStorage.setItem(KEY_STORE, key);
      $('forget-key').hidden = false;
      dialog.close();
      resolve();
    };
    if (!dialog.open) dialog.showModal();
    $('key-input').focus();
  });
}

// fetch() with the key; a 401 asks for a key and retries.
async function apiFetch(path, init = {}) {
  for (let rejected = false; ; rejected = true) {
    const res = await fetch(path, { ...init, headers: headers() });
    if (res.status !== 401) return res;
    await res.body?.cancel();
    await askForKey(rejected || Boolean(state.apiKey));
  }
}

async function loadModels() {
  const select = $('model');
  try {
    const res = await apiFetch('/v1/models');
    if (!res.ok) throw new Error(await errorMessage(res));
    const { data } = await res.json();
    const saved = localStorage.getItem('localmax.model');
    select.replaceChildren(...data.map((m) => new Option(m.id, m.id, false, m.id === saved)));
    if (!data.length) showError('the server lists no models');
  } catch (e) {
    showError(`listing models: ${e.message}`);
  }
}

// The payloads of an SSE body ("data:" lines; an empty line ends an event), as they arrive.
async function* sseData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data = [];
  for (;;) {
    const { done, value } = await reader.read();
    buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      } else if (line === '' && data.length) {
        yield data.join('\n');
        data = [];
      }
    }
    if (done) break;
  }
  if (data.length) yield data.join('\n');
}

// ---- rendering ----------------------------------------------------------------------------------

function showError(message) {
  const el = $('error');
  el.textContent = message;
  el.hidden = !message;
}

function addMessageView(role) {
  $('log').querySelector('.empty')?.remove();
  const view = document.createElement('div');
  view.className = `msg ${role}`;
  const label = document.createElement('div');
  label.className = 'role';
  label.textContent = role;
  const content = document.createElement('div');
  content.className = 'content';
  view.append(label, content);
  $('log').append(view);
  return view;
}

function scrollToEnd() {
  const log = $('log');
  log.scrollTop = log.scrollHeight;
}

// One assistant reply being streamed: accumulates deltas and renders them (at most once a frame).
class Reply {
  constructor() {
    this.view = addMessageView('assistant');
    this.content = '';
    this.reasoning = '';
    this.toolCalls = [];
    this.pending = false;
  }

  add(delta) {
    if (delta.content) this.content += delta.content;
    if (delta.reasoning_content) this.reasoning += delta.reasoning_content;
    for (const call of delta.tool_calls || []) {
      const i = call.index ?? this.toolCalls.length;
      const slot = this.toolCalls[i] ||= { id: '', type: 'function', function: { name: '', arguments: '' } };
      if (call.id) slot.id = call.id;
      if (call.type) slot.type = call.type;
      if (call.function?.name) slot.function.name += call.function.name;
      if (call.function?.arguments) slot.function.arguments += call.function.arguments;
    }
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => this.render());
    }
  }

  render() {
    this.pending = false;
    const view = this.view;
    if (this.reasoning) {
      let details = view.querySelector('details.reasoning');
      if (!details) {
        details = document.createElement('details');
        details.className = 'reasoning';
        const summary = document.createElement('summary');
        summary.textContent = 'Reasoning';
        const text = document.createElement('div');
        text.className = 'reasoning-text';
        details.append(summary, text);
        view.querySelector('.content').before(details);
      }
      details.querySelector('.reasoning-text').textContent = this.reasoning;
    }
    view.querySelector('.content').innerHTML = renderMarkdown(this.content);
    if (this.toolCalls.length) {
      let pre = view.querySelector('pre.tool-calls');
      if (!pre) {
        pre = document.createElement('pre');
        pre.className = 'tool-calls';
        view.append(pre);
      }
      pre.textContent = JSON.stringify(this.toolCalls.filter(Boolean), null, 2);
    }
    scrollToEnd();
  }

  // Tokens, tokens/s (after the first token) and time to first token, under the reply.
  showStats({ tokens, exact, ttftMs, genMs, stopped }) {
    const stats = document.createElement('div');
    stats.className = stopped ? 'stats stopped' : 'stats';
    const parts = [];
    if (tokens > 0) {
      parts.push(`${exact ? '' : '≈'}${tokens} tokens`);
      const tps = tokens > 1 && genMs > 0 ? (tokens - 1) / (genMs / 1000) : 0;
      if (tps > 0) parts.push(`${tps.toFixed(1)} tok/s`);
      stats.dataset.tokens = tokens;
      stats.dataset.tps = tps.toFixed(2);
    }
    if (ttftMs !== null) {
      parts.push(`TTFT ${ttftMs.toFixed(0)} ms`);
      stats.dataset.ttftMs = ttftMs.toFixed(1);
    }
    stats.textContent = parts.join(' · ') || 'no tokens';
    this.view.append(stats);
  }

  message() {
    const m = { role: 'assistant', content: this.content };
    if (this.reasoning) m.reasoning_content = this.reasoning;
    if (this.toolCalls.length) m.tool_calls = this.toolCalls.filter(Boolean);
    return m;
  }
}

// ---- sending ------------------------------------------------------------------------------------

function settings() {
  const temperature = parseFloat($('temperature').value);
  const maxTokens = parseInt($('max-tokens').value, 10);
  return { system: $('system').value.trim(), temperature, maxTokens };
}

function saveSettings() {
  const s = { system: $('system').value, temperature: $('temperature').value, maxTokens: $('max-tokens').value };
  localStorage.setItem(SETTINGS_STORE, JSON.stringify(s));
}

function requestBody() {
  const s = settings();
  const messages = s.system ? [{ role: 'system', content: s.system }] : [];
  for (const m of state.messages) {
    const copy = { role: m.role, content: m.content };
    if (m.tool_calls) copy.tool_calls = m.tool_calls;
    messages.push(copy);
  }
  const body = { model: $('model').value, messages, stream: true, stream_options: { include_usage: true } };
  if (Number.isFinite(s.temperature)) body.temperature = s.temperature;
  if (Number.isFinite(s.maxTokens) && s.maxTokens > 0) body.max_tokens = s.maxTokens;
  return body;
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop').hidden = !busy;
  $('model').disabled = busy;
}

// Streams one reply into `reply`; returns usage (or null) and the time of the first token.
async function streamReply(res, reply, timing) {
  let usage = null;
  for await (const data of sseData(res.body)) {
    if (data === '[DONE]') break;
    const event = JSON.parse(data);
    if (event.error) throw new Error(event.error.message || JSON.stringify(event.error));
    if (event.usage) usage = event.usage;
    const delta = event.choices?.[0]?.delta;
    if (!delta) continue;
    if (timing.first === null && (delta.content || delta.reasoning_content || delta.tool_calls)) {
      timing.first = performance.now();
    }
    if (delta.content || delta.reasoning_content || delta.tool_calls) ++timing.chunks;
    reply.add(delta);
  }
  return usage;
}

async function send() {
  const text = $('prompt').value;
  if (!text.trim() || state.controller || !$('model').value) return;
  showError('');
  state.messages.push({ role: 'user', content: text });
  const userView = addMessageView('user');
  userView.querySelector('.content').textContent = text;
  $('prompt').value = '';
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  const timing = { start: performance.now(), first: null, chunks: 0 };
  let reply = null;
  try {
    const res = await apiFetch('/v1/chat/completions', {
      method: 'POST', body: JSON.stringify(requestBody()), signal: controller.signal });
    if (!res.ok) {
      // Refused (bad parameter, prompt too long, ...): show why and give the text back.
      showError(await errorMessage(res));
      state.messages.pop();
      userView.remove();
      $('prompt').value = text;
      return;
    }
    reply = new Reply();
    const usage = await streamReply(res, reply, timing);
    finishReply(reply, timing, usage, false);
  } catch (e) {
    const stopped = controller.signal.aborted;
    if (!stopped) showError(e.message || String(e));
    if (reply) {
      finishReply(reply, timing, null, stopped);
    } else {   // nothing came back: take the turn out of the conversation again
      state.messages.pop();
      userView.remove();
      $('prompt').value = text;
    }
  } finally {
    state.controller = null;
    setBusy(false);
    $('prompt').focus();
  }
}

function finishReply(reply, timing, usage, stopped) {
  reply.render();
  const end = performance.now();
  reply.showStats({
    tokens: usage ? usage.completion_tokens : timing.chunks,
    exact: Boolean(usage),
    ttftMs: timing.first === null ? null : timing.first - timing.start,
    genMs: timing.first === null ? 0 : end - timing.first,
    stopped,
  });
  state.messages.push(reply.message());
  scrollToEnd();
}

function newChat() {
  state.controller?.abort();
  state.messages = [];
  showError('');
  const empty = document.createElement('p');
  empty.className = 'empty';
  empty.textContent = 'Start a conversation.';
  $('log').replaceChildren(empty);
  $('prompt').focus();
}

// ---- wiring ---------------------------------------------------------------------------------------

function restoreSettings() {
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS_STORE) || '{}');
    if (typeof s.system === 'string') $('system').value = s.system;
    if (typeof s.temperature === 'string') $('temperature').value = s.temperature;
    if (typeof s.maxTokens === 'string') $('max-tokens').value = s.maxTokens;
  } catch { /* ignore a corrupt entry */ }
}

function wire() {
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  $('stop').addEventListener('click', () => state.controller?.abort());
  $('new-chat').addEventListener('click', newChat);
  $('settings-toggle').addEventListener('click', () => {
    const panel = $('settings');
    panel.hidden = !panel.hidden;
    $('settings-toggle').setAttribute('aria-expanded', String(!panel.hidden));
  });
  for (const id of ['system', 'temperature', 'max-tokens']) $(id).addEventListener('change', saveSettings);
  $('model').addEventListener('change', () => localStorage.setItem('localmax.model', $('model').value));
  $('forget-key').hidden = !state.apiKey;
  $('forget-key').addEventListener('click', () => {
    state.apiKey = '';
    localStorage.removeItem(KEY_STORE);
    $('forget-key').hidden = true;
  });
}

wire();
restoreSettings();
newChat();
loadModels();
