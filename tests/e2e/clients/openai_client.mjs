// The official `openai` npm client (6.x) against a live `localmax serve`.
// Run by tests/e2e/test_npm_clients.py:
//   node openai_client.mjs --base http://127.0.0.1:PORT --model demo --groups core,errors,abort
// Groups: core, errors, abort, auth (server started with --api-key; pass it), tools, json_schema,
// embeddings. JSON-schema outputs are printed as "SCHEMA_OUTPUT {...}" lines for the driver to
// validate with python3-jsonschema.
import OpenAI from 'openai';

import {
  check, expect_reject, metric, parse_args, report, run_case, run_groups, wait_idle,
} from './harness.mjs';

const args = parse_args(process.argv);
const client = new OpenAI({ baseURL: `${args.base}/v1`, apiKey: args.apiKey, timeout: 120000 });
const M = args.model;
const LONG_TEXT = 'the cat sat on the mat and '.repeat(200);

const chat_req = (extra = {}) => ({
  model: M,
  messages: [{ role: 'user', content: 'Tell me a story about a cat.' }],
  temperature: 0,
  max_tokens: 24,
  ...extra,
});
const completion_req = (extra = {}) => ({
  model: M, prompt: 'Once upon a time', temperature: 0, max_tokens: 24, ...extra,
});

// Reads a chat stream: concatenated content, finish_reason, usage, roles, tool-call deltas.
async function read_chat_stream(stream) {
  const out = { text: '', finish: null, usage: null, roles: [], chunks: [], ids: new Set() };
  for await (const chunk of stream) {
    out.chunks.push(chunk);
    out.ids.add(chunk.id);
    if (chunk.usage) out.usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta?.role) out.roles.push(c.delta.role);
      if (c.delta?.content) out.text += c.delta.content;
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

async function read_completion_stream(stream) {
  const out = { text: '', finish: null, usage: null, chunks: 0 };
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage) out.usage = chunk.usage;
    for (const c of chunk.choices) {
      out.text += c.text;
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

// ---- core ------------------------------------------------------------------------------------

async function models_cases() {
  const list = await client.models.list();
  const ids = [];
  for await (const m of list) ids.push(m.id);
  check(ids.includes(M), `models.list includes ${M}`, ids);
  const m = await client.models.retrieve(M);
  check(m.id === M && m.object === 'model' && typeof m.owned_by === 'string', 'models.retrieve', m);
}

async function chat_cases() {
  const whole = await client.chat.completions.create(chat_req());
  const msg = whole.choices[0].message;
  check(whole.object === 'chat.completion' && whole.id.startsWith('chatcmpl-') && whole.model === M,
    'chat.completions.create: object, id, model', whole);
  check(msg.role === 'assistant' && typeof msg.content === 'string' && msg.content.length > 0,
    'non-streaming reply is an assistant message with text', msg);
  const u = whole.usage;
  check(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens === u.prompt_tokens + u.completion_tokens,
    'usage adds up', u);

  const s = await read_chat_stream(await client.chat.completions.create(
    chat_req({ stream: true, stream_options: { include_usage: true } })));
  check(s.text === msg.content, 'streamed content == non-streamed greedy content', [s.text, msg.content]);
  check(s.roles.length === 1 && s.roles[0] === 'assistant', 'the role comes once, first', s.roles);
  check(s.finish === whole.choices[0].finish_reason, 'stream finish_reason == non-stream', [s.finish]);
  check(s.ids.size === 1 && [...s.ids][0].startsWith('chatcmpl-'), 'one id across all chunks', [...s.ids]);
  const last = s.chunks[s.chunks.length - 1];
  check(last.choices.length === 0 && last.usage && last.usage.completion_tokens === u.completion_tokens &&
    last.usage.prompt_tokens === u.prompt_tokens, 'include_usage: a last chunk with usage and no choices', last);
  check(s.chunks.slice(0, -1).every((c) => c.usage === null || c.usage === undefined),
    'earlier chunks carry no usage');

  const plain = await read_chat_stream(await client.chat.completions.create(chat_req({ stream: true })));
  check(plain.text === msg.content && plain.usage === null, 'stream without include_usage: same text, no usage');

  // The client's own accumulator (ChatCompletionStream) rebuilds the same completion.
  const runner = client.chat.completions.stream(chat_req());
  const final = await runner.finalChatCompletion();
  check(final.choices[0].message.content === msg.content, 'chat.completions.stream().finalChatCompletion()',
    final.choices[0].message);
}

async function completion_cases() {
  const whole = await client.completions.create(completion_req());
  const c = whole.choices[0];
  check(whole.object === 'text_completion' && typeof c.text === 'string' && c.text.length > 0,
    'completions.create', whole);
  const s = await read_completion_stream(await client.completions.create(
    completion_req({ stream: true, stream_options: { include_usage: true } })));
  check(s.text === c.text && s.finish === c.finish_reason, 'streamed completion == non-streamed', [s.text, c.text]);
  check(s.usage && s.usage.completion_tokens === whole.usage.completion_tokens, 'completion stream usage', s.usage);
}

async function logprobs_cases() {
  const r = await client.chat.completions.create(chat_req({ logprobs: true, top_logprobs: 3 }));
  const content = r.choices[0].logprobs?.content ?? [];
  check(content.length === r.usage.completion_tokens, 'chat logprobs: one entry per generated token',
    [content.length, r.usage]);
  check(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 3 &&
    t.top_logprobs.every((a) => a.logprob <= 0 && Array.isArray(a.bytes))), 'logprob <= 0, 3 alternatives each');
  // Greedy: the chosen token is the most likely one.
  check(content.every((t) => Math.abs(t.logprob - t.top_logprobs[0].logprob) < 1e-4),
    'temperature 0 picks the top alternative', content.slice(0, 3));
  const text = Buffer.from(content.flatMap((t) => t.bytes)).toString('utf8');
  check(text === r.choices[0].message.content, 'token bytes spell the reply', [text, r.choices[0].message.content]);

  const c = await client.completions.create(completion_req({ logprobs: 2 }));
  const lp = c.choices[0].logprobs;
  check(lp.tokens.length === c.usage.completion_tokens && lp.tokens.join('') === c.choices[0].text,
    'completion logprobs: tokens spell the text', lp.tokens);
  check(lp.token_logprobs.every((x) => x <= 0) && lp.top_logprobs.every((o) => Object.keys(o).length <= 2) &&
    lp.text_offset.every((o, i) => i === 0 || o >= lp.text_offset[i - 1]), 'completion logprobs fields', lp);
}

async function stop_and_length_cases() {
  const full = await client.completions.create(completion_req({ max_tokens: 32 }));
  const text = full.choices[0].text;
  const mid = Math.floor(text.length / 2);
  const stop = text.slice(mid, mid + 3);
  const want = text.slice(0, text.indexOf(stop));
  const cut = await client.completions.create(completion_req({ max_tokens: 32, stop: [stop] }));
  check(cut.choices[0].text === want && cut.choices[0].finish_reason === 'stop',
    `stop ${JSON.stringify(stop)} cuts before its first occurrence, finish_reason stop`, cut.choices[0]);
  const cs = await read_completion_stream(await client.completions.create(
    completion_req({ max_tokens: 32, stop, stream: true })));
  check(cs.text === want && cs.finish === 'stop', 'stop (a single string) while streaming', cs);

  const chat = await client.chat.completions.create(chat_req({ max_tokens: 32 }));
  const ct = chat.choices[0].message.content;
  const cstop = ct.slice(Math.floor(ct.length / 2), Math.floor(ct.length / 2) + 3);
  const ccut = await client.chat.completions.create(chat_req({ max_tokens: 32, stop: [cstop, 'zzzz'] }));
  check(ccut.choices[0].message.content === ct.slice(0, ct.indexOf(cstop)) &&
    ccut.choices[0].finish_reason === 'stop', 'chat stop', ccut.choices[0]);

  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const r = await client.chat.completions.create(chat_req({ max_tokens: undefined, [field]: 5 }));
    check(r.choices[0].finish_reason === 'length' && r.usage.completion_tokens === 5,
      `${field}: 5 → finish_reason length after 5 tokens`, [r.choices[0], r.usage]);
  }
}

async function seed_cases() {
  const sampled = (seed) => client.chat.completions.create(chat_req({ temperature: 1.0, seed }));
  const a = await sampled(7);
  const b = await sampled(7);
  check(a.choices[0].message.content === b.choices[0].message.content, 'same seed, same sampled reply',
    [a.choices[0].message.content, b.choices[0].message.content]);
  const s = await read_chat_stream(await client.chat.completions.create(
    chat_req({ temperature: 1.0, seed: 7, stream: true })));
  check(s.text === a.choices[0].message.content, 'same seed streamed == non-streamed', s.text);
  const texts = new Set([a.choices[0].message.content]);
  for (const seed of [8, 9, 10, 11]) texts.add((await sampled(seed)).choices[0].message.content);
  check(texts.size > 1, 'different seeds sample different replies', [...texts]);
}

async function core() {
  await run_case('models', models_cases);
  await run_case('chat', chat_cases);
  await run_case('completions', completion_cases);
  await run_case('logprobs', logprobs_cases);
  await run_case('stop and length', stop_and_length_cases);
  await run_case('seed', seed_cases);
}

// ---- errors ----------------------------------------------------------------------------------

async function errors() {
  await run_case('unknown model → NotFoundError', async () => {
    const e = await expect_reject(client.chat.completions.create(chat_req({ model: 'no-such-model' })), '404');
    check(e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found' &&
      e.message.includes('no-such-model'), 'chat with an unknown model → NotFoundError 404', e);
    const r = await expect_reject(client.models.retrieve('no-such-model'), 'retrieve 404');
    check(r instanceof OpenAI.NotFoundError, 'models.retrieve of an unknown model → NotFoundError', r);
    const st = await expect_reject(client.chat.completions.create(
      chat_req({ model: 'no-such-model', stream: true })), 'stream 404');
    check(st instanceof OpenAI.NotFoundError, 'a stream request for an unknown model → NotFoundError', st);
  });
  await run_case('bad parameters → BadRequestError naming the field', async () => {
    const cases = [
      [{ temperature: -1 }, 'temperature'], [{ top_p: 2 }, 'top_p'], [{ max_tokens: 0 }, 'max_tokens'],
      [{ messages: [] }, 'messages'], [{ stop: 7 }, 'stop'], [{ seed: 'x' }, 'seed'],
      [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
      [{ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } },
        'tool_choice'],
    ];
    for (const [extra, param] of cases) {
      const e = await expect_reject(client.chat.completions.create(chat_req(extra)), param);
      check(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === param &&
        e.type === 'invalid_request_error' && e.message.includes(param),
        `${JSON.stringify(extra).slice(0, 80)} → BadRequestError with param ${param}`, e && [e.status, e.param, e.message]);
    }
    const s = await expect_reject(client.chat.completions.create(chat_req({ temperature: -1, stream: true })), 's');
    check(s instanceof OpenAI.BadRequestError && s.param === 'temperature', 'a bad streaming request → BadRequestError', s);
  });
  await run_case('n: 2 → 400', async () => {
    const e = await expect_reject(client.chat.completions.create(chat_req({ n: 2 })), 'n');
    check(e instanceof OpenAI.BadRequestError && e.param === 'n', 'n: 2 → BadRequestError param n', e);
  });
  await run_case('prompt longer than the context → 400', async () => {
    const e = await expect_reject(client.chat.completions.create(
      chat_req({ messages: [{ role: 'user', content: LONG_TEXT }] })), 'long chat');
    const nums = (e?.message.match(/\d+/g) ?? []).map(Number);
    check(e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' && e.param === 'messages' &&
      nums.includes(args.ctx) && nums.some((n) => n > args.ctx), 'chat: 400 context_length_exceeded with the numbers', e);
    const c = await expect_reject(client.completions.create(completion_req({ prompt: LONG_TEXT })), 'long prompt');
    check(c instanceof OpenAI.BadRequestError && c.param === 'prompt', 'completions: 400 naming prompt', c);
  });
}

// ---- abort -----------------------------------------------------------------------------------

async function abort() {
  await run_case('AbortController cancels a stream and frees its slot', async () => {
    const req = completion_req({ max_tokens: 200 });
    const full = await client.completions.create(req);
    const n_full = full.usage.completion_tokens;
    const tokens_before = await metric(args.base, 'localmax_completion_tokens_total', args.apiKey);
    const ac = new AbortController();
    const stream = await client.completions.create({ ...req, stream: true }, { signal: ac.signal });
    let chunks = 0;
    let error = null;
    try {
      for await (const chunk of stream) {
        chunks += chunk.choices.length;
        if (chunks === 1) ac.abort();
      }
    } catch (e) {
      error = e;
    }
    check(chunks >= 1 && chunks < n_full && (error === null || error instanceof OpenAI.APIUserAbortError),
      `the stream ended after the abort (${chunks} chunks of ${n_full})`, error);
    const waited = await wait_idle(args.base, args.apiKey, 5);
    const streamed = (await metric(args.base, 'localmax_completion_tokens_total', args.apiKey)) - tokens_before;
    check(waited >= 0 && streamed < n_full,
      `slot freed ${waited.toFixed(2)} s after the abort, after ${streamed} of ${n_full} tokens`);
    const health = await fetch(`${args.base}/health`);
    check(health.status === 200, '/health after the abort');
    const again = await client.completions.create(req);
    check(again.choices[0].text === full.choices[0].text, 'the next request is served normally');
  });
}

// ---- auth (the server was started with --api-key args.apiKey) --------------------------------

async function auth() {
  await run_case('API keys', async () => {
    const wrong = new OpenAI({ baseURL: `${args.base}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
    const e = await expect_reject(wrong.models.list(), 'wrong key');
    check(e instanceof OpenAI.AuthenticationError && e.status === 401 && e.type === 'authentication_error',
      'a wrong key → AuthenticationError 401', e);
    const c = await expect_reject(wrong.chat.completions.create(chat_req({ stream: true })), 'wrong key stream');
    check(c instanceof OpenAI.AuthenticationError, 'a wrong key on a stream request → AuthenticationError', c);
    const none = new OpenAI({ baseURL: `${args.base}/v1`, apiKey: 'x', defaultHeaders: { Authorization: null } });
    const n = await expect_reject(none.models.list(), 'no key');
    check(n instanceof OpenAI.AuthenticationError && n.status === 401, 'no Authorization header → 401', n);
    const ok = await client.chat.completions.create(chat_req({ max_tokens: 4 }));
    check(ok.choices[0].message.role === 'assistant', 'the right key is served');
  });
}

// ---- tools (needs tool_choice enforcement: branch wt-grammar) --------------------------------

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', enum: ['Paris', 'London', 'Tokyo'] },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'Get the local time in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'],
      additionalProperties: false },
  },
};
const TOOLS = [WEATHER, TIME];
const tool_schema = (name) => TOOLS.find((t) => t.function.name === name)?.function.parameters;

// Checks one tool call's shape and reports its arguments for schema validation.
function check_call(call, names, where) {
  check(typeof call.id === 'string' && call.id.length > 0 && call.type === 'function' &&
    names.includes(call.function.name), `${where}: a call of ${names.join('|')} with an id`, call);
  let parsed;
  try {
    parsed = JSON.parse(call.function.arguments);
  } catch (e) {
    check(false, `${where}: arguments parse as JSON`, call.function.arguments);
    return;
  }
  check(parsed !== null && typeof parsed === 'object', `${where}: arguments are an object`, parsed);
  report('SCHEMA_OUTPUT', { where, schema: tool_schema(call.function.name) ?? {}, text: call.function.arguments });
}

async function tools() {
  const messages = [{ role: 'user', content: 'What is the weather like in Paris?' }];
  const forced = { type: 'function', function: { name: 'get_weather' } };
  let first = null;
  await run_case('tool_choice naming a function → tool_calls', async () => {
    // parallel_tool_calls: false → exactly one call, then the reply ends.
    first = await client.chat.completions.create(chat_req({ messages, tools: TOOLS, tool_choice: forced,
      parallel_tool_calls: false, max_tokens: 300 }));
    const msg = first.choices[0].message;
    check(first.choices[0].finish_reason === 'tool_calls', 'finish_reason tool_calls', first.choices[0]);
    check(Array.isArray(msg.tool_calls) && msg.tool_calls.length === 1 && !msg.content, 'the reply is one tool call', msg);
    for (const call of msg.tool_calls ?? []) check_call(call, ['get_weather'], 'forced get_weather');
    // The same request streamed, accumulated by the client's ChatCompletionStream.
    const final = await client.chat.completions.stream(
      chat_req({ messages, tools: TOOLS, tool_choice: forced, parallel_tool_calls: false, max_tokens: 300 })).finalChatCompletion();
    const calls = final.choices[0].message.tool_calls ?? [];
    check(calls.length === (msg.tool_calls ?? []).length &&
      calls.every((c, i) => c.function.name === msg.tool_calls[i].function.name &&
        c.function.arguments === msg.tool_calls[i].function.arguments),
    'streamed tool-call deltas accumulate to the same calls', calls);
  });
  await run_case('tool result round trip → assistant reply', async () => {
    if (!first?.choices[0].message.tool_calls?.length) return check(false, 'no tool call to answer');
    const call = first.choices[0].message.tool_calls[0];
    const history = [...messages, first.choices[0].message,
      { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21, sky: 'sunny' }) }];
    const answer = (msgs) => client.chat.completions.create(
      chat_req({ messages: msgs, tools: TOOLS, tool_choice: 'none', max_tokens: 24 }));
    const reply = await answer(history);
    const msg = reply.choices[0].message;
    check(typeof msg.content === 'string' && msg.content.length > 0 && !msg.tool_calls?.length &&
      ['stop', 'length'].includes(reply.choices[0].finish_reason), 'the model answers in text after the tool result', msg);
    const without = await answer(history.slice(0, -1));
    const bare = await answer(messages);
    check(reply.usage.prompt_tokens > without.usage.prompt_tokens && without.usage.prompt_tokens > bare.usage.prompt_tokens,
      'the tool call and the tool result reach the prompt',
      [reply.usage.prompt_tokens, without.usage.prompt_tokens, bare.usage.prompt_tokens]);
  });
  await run_case('tool_choice required', async () => {
    const r = await client.chat.completions.create(chat_req({ messages, tools: TOOLS, tool_choice: 'required',
      parallel_tool_calls: false, max_tokens: 300 }));
    const calls = r.choices[0].message.tool_calls ?? [];
    check(calls.length === 1 && !r.choices[0].message.content && r.choices[0].finish_reason === 'tool_calls',
      'required → one call', r.choices[0]);
    for (const call of calls) check_call(call, ['get_weather', 'get_time'], 'required');
  });
}

// ---- json_schema (needs constrained decoding: branch wt-grammar) -----------------------------

const PET_SCHEMA = {
  type: 'object',
  properties: {
    animal: { type: 'string', enum: ['cat', 'dog', 'bird'] },
    name: { type: 'string', maxLength: 12 },
    happy: { type: 'boolean' },
    toys: { type: 'array', items: { type: 'string', enum: ['ball', 'box', 'hat'] }, maxItems: 3 },
  },
  required: ['animal', 'name', 'happy', 'toys'],
  additionalProperties: false,
};

function check_json_text(text, schema, where) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    check(false, `${where}: the reply parses as JSON`, text);
    return;
  }
  check(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `${where}: a JSON object`, text);
  report('SCHEMA_OUTPUT', { where, schema, text });
}

async function json_schema() {
  const rf = { type: 'json_schema', json_schema: { name: 'pet', strict: true, schema: PET_SCHEMA } };
  const messages = [{ role: 'user', content: 'Describe a pet as JSON.' }];
  await run_case('response_format json_schema', async () => {
    const r = await client.chat.completions.create(chat_req({ messages, response_format: rf, max_tokens: 150 }));
    check_json_text(r.choices[0].message.content, PET_SCHEMA, 'chat json_schema greedy');
    const s = await read_chat_stream(await client.chat.completions.create(
      chat_req({ messages, response_format: rf, max_tokens: 150, stream: true })));
    check(s.text === r.choices[0].message.content, 'streamed == non-streamed under a schema', s.text);
    for (const seed of [1, 2, 3]) {
      const x = await client.chat.completions.create(
        chat_req({ messages, response_format: rf, max_tokens: 150, temperature: 1.5, seed }));
      check_json_text(x.choices[0].message.content, PET_SCHEMA, `chat json_schema temperature 1.5 seed ${seed}`);
    }
    const c = await client.completions.create(completion_req({ response_format: rf, max_tokens: 150 }));
    check_json_text(c.choices[0].text, PET_SCHEMA, 'completions json_schema');
  });
  await run_case('response_format json_object', async () => {
    // Any object: strings are unbounded, so a tiny model may still be inside one at max_tokens
    // (finish_reason "length": the reply is cut, as OpenAI documents); a finished reply must parse.
    const r = await client.chat.completions.create(
      chat_req({ messages, response_format: { type: 'json_object' }, max_tokens: 300 }));
    const text = r.choices[0].message.content;
    if (r.choices[0].finish_reason === 'length') {
      check(text.trimStart().startsWith('{'), 'chat json_object cut at max_tokens starts an object', text);
    } else {
      check_json_text(text, { type: 'object' }, 'chat json_object');
    }
  });
  await run_case('an uncompilable schema → 400 naming the keyword', async () => {
    const bad = { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z]+$' } } };
    const e = await expect_reject(client.chat.completions.create(chat_req({
      messages, response_format: { type: 'json_schema', json_schema: { name: 'bad', schema: bad } } })), 'pattern');
    check(e instanceof OpenAI.BadRequestError && e.message.includes('pattern') && e.param?.startsWith('response_format'),
      'unsupported "pattern" → BadRequestError naming it', e);
  });
}

// ---- embeddings (branch wt-embed) ------------------------------------------------------------

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const max_diff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

async function embeddings() {
  await run_case('embeddings.create', async () => {
    const text = 'The cat sat on the mat.';
    const b64 = await client.embeddings.create({ model: M, input: text });   // base64 on the wire
    const flt = await client.embeddings.create({ model: M, input: text, encoding_format: 'float' });
    const v = b64.data[0].embedding;
    const f = flt.data[0].embedding;
    check(b64.object === 'list' && b64.data.length === 1 && b64.data[0].object === 'embedding' &&
      b64.data[0].index === 0 && b64.model === M, 'response shape', { ...b64, data: '...' });
    check(Array.isArray(v) && v.length > 0 && v.length === f.length && v.every(Number.isFinite),
      `base64 decoded by the client to ${v.length} floats`, v.length);
    check(max_diff(v, f) === 0, 'base64 float32 bytes == the float list', max_diff(v, f));
    check(Math.abs(norm(f) - 1) < 1e-4, 'unit length', norm(f));
    check(b64.usage.prompt_tokens > 0 && b64.usage.total_tokens === b64.usage.prompt_tokens, 'usage', b64.usage);
    const batch = await client.embeddings.create({ model: M, input: [text, 'A dog ran to the park.'], encoding_format: 'float' });
    check(batch.data.length === 2 && batch.data[0].index === 0 && batch.data[1].index === 1 &&
      max_diff(batch.data[0].embedding, f) < 1e-5, 'a batch of two: the first equals the single request',
    batch.data.map((d) => d.index));
    const dims = await client.embeddings.create({ model: M, input: text, dimensions: 8, encoding_format: 'float' });
    check(dims.data[0].embedding.length === 8 && Math.abs(norm(dims.data[0].embedding) - 1) < 1e-4,
      'dimensions: 8 → 8 floats of unit length', dims.data[0].embedding);
  });
  await run_case('embeddings errors', async () => {
    for (const [input, what] of [['', 'an empty string'], [[], 'an empty list']]) {
      const e = await expect_reject(client.embeddings.create({ model: M, input }), what);
      check(e instanceof OpenAI.BadRequestError && e.param === 'input', `${what} → BadRequestError param input`, e);
    }
    const e = await expect_reject(client.embeddings.create({ model: 'no-such-model', input: 'x' }), '404');
    check(e instanceof OpenAI.NotFoundError, 'unknown model → NotFoundError', e);
    const big = await expect_reject(client.embeddings.create({ model: M, input: 'x', dimensions: 1 << 20 }), 'dims');
    check(big instanceof OpenAI.BadRequestError && big.param === 'dimensions', 'dimensions too large → 400', big);
  });
}

await run_groups(args, { core, errors, abort, auth, tools, json_schema, embeddings });
