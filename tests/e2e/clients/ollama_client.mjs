// The official `ollama` npm client (0.6.x) against a live `localmax serve`.
// Run by tests/e2e/test_npm_clients.py:
//   node ollama_client.mjs --base http://127.0.0.1:PORT --model demo --groups core,errors
// Groups: core, errors, auth (server started with --api-key; pass it), format (JSON schema output:
// branch wt-grammar), embeddings (branch wt-embed).
import { Ollama } from 'ollama';

import {
  check, expect_reject, parse_args, report, run_case, run_groups, wait_idle,
} from './harness.mjs';

const args = parse_args(process.argv);
const headers = { Authorization: `Bearer ${args.apiKey}` };
const ollama = new Ollama({ host: args.base, headers });
const M = args.model;
const TAGGED = M.includes(':') ? M : `${M}:latest`;

const messages = [{ role: 'user', content: 'Tell me a story about a dog.' }];
const greedy = (extra = {}) => ({ temperature: 0, num_predict: 24, ...extra });

async function read_stream(it, field) {
  const out = { text: '', parts: [], last: null };
  for await (const part of it) {
    out.parts.push(part);
    out.text += field === 'message' ? part.message.content : part.response;
    out.last = part;
  }
  return out;
}

// ---- core ------------------------------------------------------------------------------------

async function info_cases() {
  const v = await ollama.version();
  check(typeof v.version === 'string' && /^\d+\.\d+\.\d+/.test(v.version), 'version()', v);
  const list = await ollama.list();
  const mine = list.models.find((m) => m.name === TAGGED);
  check(mine && mine.model === TAGGED && mine.size > 0 && typeof mine.digest === 'string' &&
    mine.details.format === 'gguf' && !Number.isNaN(Date.parse(mine.modified_at)), `list() has ${TAGGED}`, list);
  const show = await ollama.show({ model: M });
  const arch = show.model_info?.['general.architecture'];
  check(typeof arch === 'string' && show.details.family === arch && typeof show.template === 'string' &&
    Array.isArray(show.capabilities) && show.capabilities.includes('completion'), 'show()', show.details);
  const ps = await ollama.ps();
  const loaded = ps.models.find((m) => m.name === TAGGED);
  check(loaded && loaded.context_length === args.ctx && !Number.isNaN(Date.parse(loaded.expires_at)), 'ps()', ps);
}

async function chat_cases() {
  const whole = await ollama.chat({ model: M, messages, options: greedy() });
  check(whole.done === true && whole.message.role === 'assistant' && whole.message.content.length > 0 &&
    ['stop', 'length'].includes(whole.done_reason) && whole.model === TAGGED, 'chat() non-streaming', whole);
  check(whole.eval_count > 0 && whole.prompt_eval_count > 0 && whole.total_duration > 0 &&
    !Number.isNaN(Date.parse(whole.created_at)), 'chat() statistics', whole);
  const s = await read_stream(await ollama.chat({ model: M, messages, options: greedy(), stream: true }), 'message');
  check(s.text === whole.message.content, 'chat() stream text == non-streaming', [s.text, whole.message.content]);
  check(s.last.done === true && s.parts.slice(0, -1).every((p) => p.done === false) &&
    s.last.done_reason === whole.done_reason && s.last.eval_count === whole.eval_count,
  'chat() stream: done only on the last part, same statistics', s.last);
}

async function generate_cases() {
  const whole = await ollama.generate({ model: M, prompt: 'Once upon a time', options: greedy() });
  check(whole.done === true && whole.response.length > 0 && whole.model === TAGGED, 'generate() non-streaming', whole);
  const s = await read_stream(await ollama.generate({ model: M, prompt: 'Once upon a time', options: greedy(), stream: true }),
    'response');
  check(s.text === whole.response && s.last.done === true, 'generate() stream == non-streaming', [s.text, whole.response]);
  const raw = await ollama.generate({ model: M, prompt: 'Once upon a time', raw: true, options: greedy() });
  check(typeof raw.response === 'string' && raw.response.length > 0, 'generate() raw', raw.response);
}

async function options_cases() {
  const n = await ollama.generate({ model: M, prompt: 'Once upon a time', raw: true, options: greedy({ num_predict: 6 }) });
  check(n.eval_count === 6 && n.done_reason === 'length', 'num_predict: 6 → 6 tokens, done_reason length', n);
  const full = await ollama.generate({ model: M, prompt: 'Once upon a time', raw: true, options: greedy({ num_predict: 32 }) });
  const t = full.response;
  const stop = t.slice(Math.floor(t.length / 2), Math.floor(t.length / 2) + 3);
  const cut = await ollama.generate({ model: M, prompt: 'Once upon a time', raw: true,
    options: greedy({ num_predict: 32, stop: [stop] }) });
  check(cut.response === t.slice(0, t.indexOf(stop)) && cut.done_reason === 'stop',
    `stop ${JSON.stringify(stop)} cuts the response`, [cut.response, t]);
  const cs = await read_stream(await ollama.chat({ model: M, messages, stream: true,
    options: greedy({ num_predict: 32, stop: [stop] }) }), 'message');
  check(!cs.text.includes(stop), 'stop while streaming chat', cs.text);

  const sampled = (seed) => ollama.chat({ model: M, messages, options: { temperature: 1.0, seed, num_predict: 24 } });
  const a = await sampled(42);
  const b = await sampled(42);
  check(a.message.content === b.message.content, 'same seed, same sampled reply', [a.message.content, b.message.content]);
  const texts = new Set([a.message.content]);
  for (const seed of [43, 44, 45, 46]) texts.add((await sampled(seed)).message.content);
  check(texts.size > 1, 'different seeds sample different replies', [...texts]);
  const hot = await ollama.chat({ model: M, messages, options: { temperature: 0, top_k: 1, top_p: 0.5, repeat_penalty: 1.1,
    num_predict: 24 } });
  check(hot.done === true, 'top_k, top_p, repeat_penalty accepted', hot);
}

async function abort_cases() {
  // The client's own abort(): every ongoing stream is cancelled; the server frees the slot.
  const it = await ollama.generate({ model: M, prompt: 'Once upon a time', raw: true, stream: true,
    options: greedy({ num_predict: 200 }) });
  let parts = 0;
  let error = null;
  try {
    for await (const part of it) {
      parts += 1;
      if (parts === 2) ollama.abort();
    }
  } catch (e) {
    error = e;
  }
  check(parts >= 2 && error?.name === 'AbortError', `abort() ends the stream (${parts} parts)`, error);
  const waited = await wait_idle(args.base, args.apiKey, 5);
  check(waited >= 0, `slot freed ${waited.toFixed(2)} s after the abort`);
  const again = await ollama.generate({ model: M, prompt: 'Once upon a time', options: greedy({ num_predict: 4 }) });
  check(again.done === true, 'the next request is served normally');
}

async function core() {
  await run_case('list, show, ps, version', info_cases);
  await run_case('chat', chat_cases);
  await run_case('generate', generate_cases);
  await run_case('options', options_cases);
  await run_case('abort', abort_cases);
}

// ---- errors ----------------------------------------------------------------------------------

async function errors() {
  await run_case('unknown model → ResponseError 404', async () => {
    for (const [what, p] of [
      ['chat', () => ollama.chat({ model: 'no-such-model', messages })],
      ['chat stream', () => ollama.chat({ model: 'no-such-model', messages, stream: true })],
      ['generate', () => ollama.generate({ model: 'no-such-model', prompt: 'x' })],
      ['show', () => ollama.show({ model: 'no-such-model' })],
    ]) {
      const e = await expect_reject(p(), what);
      check(e?.name === 'ResponseError' && e.status_code === 404 && e.error.includes('no-such-model'),
        `${what}: ResponseError status_code 404 naming the model`, e && [e.name, e.status_code, e.error]);
    }
  });
  await run_case('bad input → ResponseError 400', async () => {
    const cases = [
      [() => ollama.chat({ model: M, messages, options: { temperature: -1 } }), 'options.temperature'],
      [() => ollama.generate({ model: M, prompt: 'x', options: { num_predict: 0 } }), 'options.num_predict'],
      [() => ollama.chat({ model: M, messages, options: { num_ctx: 1 << 30 } }), 'options.num_ctx'],
      [() => ollama.chat({ model: M, messages: [{ role: 'wizard', content: 'x' }] }), 'messages[0].role'],
      [() => ollama.generate({ model: M, prompt: 'x', options: { top_k: 'many' } }), 'options.top_k'],
      [() => ollama.generate({ model: M, prompt: 'x', stream: true, options: { top_p: 7 } }), 'options.top_p'],
    ];
    for (const [call, field] of cases) {
      const e = await expect_reject(call(), field);
      check(e?.name === 'ResponseError' && e.status_code === 400 && e.error.includes(field),
        `bad ${field} → ResponseError 400 naming it`, e && [e.status_code, e.error]);
    }
    const long = await expect_reject(ollama.generate({ model: M, prompt: 'the cat sat on the mat and '.repeat(200) }), 'long');
    check(long?.status_code === 400 && long.error.includes(String(args.ctx)), 'a prompt longer than the context → 400', long);
  });
}

// ---- auth ------------------------------------------------------------------------------------

async function auth() {
  await run_case('API keys', async () => {
    const wrong = new Ollama({ host: args.base, headers: { Authorization: 'Bearer wrong-key' } });
    const e = await expect_reject(wrong.list(), 'wrong key');
    check(e?.name === 'ResponseError' && e.status_code === 401 && e.error.length > 0, 'a wrong key → ResponseError 401', e);
    const none = new Ollama({ host: args.base });
    const n = await expect_reject(none.chat({ model: M, messages, stream: true }), 'no key');
    check(n?.status_code === 401, 'no key → 401', n);
    const ok = await ollama.chat({ model: M, messages, options: greedy({ num_predict: 4 }) });
    check(ok.done === true, 'the right key is served');
  });
}

// ---- format: JSON output (branch wt-grammar) ---------------------------------------------------

const PET_SCHEMA = {
  type: 'object',
  properties: {
    animal: { type: 'string', enum: ['cat', 'dog', 'bird'] },
    name: { type: 'string', maxLength: 12 },
    happy: { type: 'boolean' },
  },
  required: ['animal', 'name', 'happy'],
  additionalProperties: false,
};

function check_json_text(text, schema, where) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    check(false, `${where}: parses as JSON`, text);
    return;
  }
  check(parsed !== null && typeof parsed === 'object', `${where}: a JSON value`, text);
  report('SCHEMA_OUTPUT', { where, schema, text });
}

async function format() {
  await run_case('format: schema / "json"', async () => {
    const ask = [{ role: 'user', content: 'Describe a pet as JSON.' }];
    const r = await ollama.chat({ model: M, messages: ask, format: PET_SCHEMA, options: greedy({ num_predict: 120 }) });
    check_json_text(r.message.content, PET_SCHEMA, 'ollama chat format schema');
    const s = await read_stream(await ollama.chat({ model: M, messages: ask, format: PET_SCHEMA, stream: true,
      options: greedy({ num_predict: 120 }) }), 'message');
    check(s.text === r.message.content, 'streamed == non-streamed under a schema', s.text);
    const g = await ollama.generate({ model: M, prompt: 'A pet:', format: PET_SCHEMA,
      options: { temperature: 1.5, seed: 3, num_predict: 120 } });
    check_json_text(g.response, PET_SCHEMA, 'ollama generate format schema, temperature 1.5');
    // "json": any object, with unbounded strings: a reply cut by num_predict (done_reason "length")
    // need not parse; a finished one must.
    const j = await ollama.generate({ model: M, prompt: 'A pet:', format: 'json', options: greedy({ num_predict: 300 }) });
    if (j.done_reason === 'length') {
      check(j.response.trimStart().startsWith('{'), 'format json cut at num_predict starts an object', j.response);
    } else {
      check_json_text(j.response, {}, 'ollama generate format json');
    }
  });
}

// ---- embeddings (branch wt-embed) --------------------------------------------------------------

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / (norm(a) * norm(b));

async function embeddings() {
  await run_case('embed / embeddings', async () => {
    const texts = ['The cat sat on the mat.', 'A dog ran to the park.'];
    const r = await ollama.embed({ model: M, input: texts });
    check(Array.isArray(r.embeddings) && r.embeddings.length === 2 && r.model === TAGGED &&
      r.embeddings.every((v) => v.length === r.embeddings[0].length && v.length > 0 && v.every(Number.isFinite)),
    'embed(): two vectors of the same length', r.embeddings?.map((v) => v.length));
    check(r.embeddings.every((v) => Math.abs(norm(v) - 1) < 1e-4) && r.prompt_eval_count > 0,
      'unit vectors, prompt_eval_count', r.prompt_eval_count);
    const one = await ollama.embed({ model: M, input: texts[0] });
    check(cosine(one.embeddings[0], r.embeddings[0]) > 0.99999, 'a single input equals the batch entry');
    const res = await fetch(`${args.base}/v1/embeddings`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: M, input: texts[0], encoding_format: 'float' }) });
    const oa = await res.json();
    check(res.status === 200 && cosine(oa.data[0].embedding, one.embeddings[0]) > 0.99999,
      'the same vector as /v1/embeddings', res.status);
    const legacy = await ollama.embeddings({ model: M, prompt: texts[0] });
    check(Array.isArray(legacy.embedding) && legacy.embedding.length === one.embeddings[0].length &&
      cosine(legacy.embedding, one.embeddings[0]) > 0.99999, 'embeddings() (legacy /api/embeddings)', legacy.embedding?.length);
    const e = await expect_reject(ollama.embed({ model: 'no-such-model', input: 'x' }), '404');
    check(e?.status_code === 404, 'embed() of an unknown model → 404', e);
    const long = await expect_reject(ollama.embed({ model: M, input: 'the cat sat on the mat and '.repeat(200),
      truncate: false }), 'truncate false');
    check(long?.status_code === 400, 'too long with truncate: false → 400', long);
  });
}

await run_groups(args, { core, errors, auth, format, embeddings });
