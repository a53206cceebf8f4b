"""The reference renderer for chat templates: Python jinja2 configured the way Hugging Face
transformers configures it (transformers/utils/chat_template_utils.py, as documented):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
extension and a `{% generation %}` block (transformers' AssistantTracker, which renders its body
unchanged), globals raise_exception and strftime_now, and a tojson filter that is json.dumps with
ensure_ascii=False. render() receives messages, tools, documents, add_generation_prompt and the
special tokens / extra kwargs."""
import json
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def render(env_or_template, conv, bos_token, eos_token):
    """conv: {"messages", "tools"?, "add_generation_prompt"?, ...extra}. Returns ("ok", text) or
    ("error", message)."""
    try:
        tmpl = env_or_template
        if isinstance(tmpl, str):
            tmpl = make_env().from_string(tmpl)
        kwargs = {"bos_token": bos_token, "eos_token": eos_token}
        for k, v in conv.items():
            if k not in ("messages", "tools", "add_generation_prompt"):
                kwargs[k] = v
        out = tmpl.render(messages=conv["messages"], tools=conv.get("tools"),
                          documents=kwargs.pop("documents", None),
                          add_generation_prompt=conv.get("add_generation_prompt", False), **kwargs)
        return ("ok", out)
    except Exception as e:  # noqa: BLE001 - any template failure counts as "raised"
        return ("error", f"{type(e).__name__}: {e}")
