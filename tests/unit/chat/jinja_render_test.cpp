// The Jinja interpreter against Python's jinja2, construct by construct.
//
// Every expected string below was produced by python3-jinja2 3.1.6 (Debian 12) with the
// environment of tests/e2e/template_reference.py (transformers' ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, its tojson), rendering the same template with the
// same variables, and pasted here. The error cases list jinja2's exception in a comment: both
// implementations raise.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace lm::chat {
namespace {

Result<std::string> render_vars(const std::string& tmpl, const std::string& vars_json) {
  LM_TRY(auto t, ChatTemplate::parse(TemplateSource{tmpl, "<s>", "</s>"}));
  auto vars = nlohmann::ordered_json::parse(vars_json);
  nlohmann::ordered_json messages = vars.contains("messages") ? vars["messages"] : nlohmann::ordered_json::array();
  return t.render_ordered(messages, nullptr, false, vars);
}

void expect_render(const std::string& tmpl, const std::string& vars_json, const std::string& want) {
  auto r = render_vars(tmpl, vars_json);
  ASSERT_TRUE(r.ok()) << r.error().message() << "\ntemplate: " << tmpl;
  EXPECT_EQ(*r, want) << "template: " << tmpl;
}

void expect_error(const std::string& tmpl) {
  auto r = render_vars(tmpl, "{}");
  EXPECT_FALSE(r.ok()) << "rendered: " << *r;
}

TEST(JinjaRender, TrimBlocks) {
  expect_render(R"J({% if true %}
A
{% endif %}
B)J",
                R"J({})J",
                R"J(A
B)J");
}

TEST(JinjaRender, LstripBlocks) {
  expect_render(R"J(x
    {% if true %}
    y
    {% endif %}
z)J",
                R"J({})J",
                R"J(x
    y
z)J");
}

TEST(JinjaRender, LstripNotAfterInlineTag) {
  expect_render(R"J({% if true %}  {% if true %}a{% endif %}{% endif %})J",
                R"J({})J",
                R"J(  a)J");
}

TEST(JinjaRender, DashStrip) {
  expect_render(R"J(a  
  {%- if true -%}  
  b  
  {%- endif -%}  
  c)J",
                R"J({})J",
                R"J(abc)J");
}

TEST(JinjaRender, PlusKeepsWhitespace) {
  expect_render(R"J(a
  {%+ if true +%}
b
{% endif %})J",
                R"J({})J",
                R"J(a
  
b
)J");
}

TEST(JinjaRender, VarDash) {
  expect_render(R"J(a 
 {{- 'x' -}} 
 b)J",
                R"J({})J",
                R"J(axb)J");
}

TEST(JinjaRender, CommentTrim) {
  expect_render(R"J(a
  {# comment #}
b{#- c -#}  c)J",
                R"J({})J",
                R"J(a
bc)J");
}

TEST(JinjaRender, Raw) {
  expect_render(R"J({% raw %}{{ x }}{% endraw %}|{%- raw -%}  {% y %}  {%- endraw %})J",
                R"J({})J",
                R"J({{ x }}|{% y %})J");
}

TEST(JinjaRender, TrailingNewlineDropped) {
  expect_render(R"J(a
)J",
                R"J({})J",
                R"J(a)J");
}

TEST(JinjaRender, CrLf) {
  expect_render(R"J(a
{% if true %}
b
{% endif %}
c)J",
                R"J({})J",
                R"J(a
b
c)J");
}

TEST(JinjaRender, IntFloatPrinting) {
  expect_render(R"J({{ 1 }} {{ 1.0 }} {{ 1e-05 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 123456789.0 }} {{ 2.5e-4 }} {{ -0.0 }} {{ 1/3 }})J",
                R"J({})J",
                R"J(1 1.0 1e-05 0.30000000000000004 1e+16 123456789.0 0.00025 -0.0 0.3333333333333333)J");
}

TEST(JinjaRender, Arithmetic) {
  expect_render(R"J({{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] + [2, 3] }} {{ 1 + 2 * 3 - 4 }} {{ true + 1 }})J",
                R"J({})J",
                R"J(3 -4 1 2 3.5 1024 0.5 3.0 ababab xxx [1, 2, 3] 3 2)J");
}

TEST(JinjaRender, Concat) {
  expect_render(R"J({{ 'a' ~ 1 ~ none ~ true ~ [1] ~ undefined_var }})J",
                R"J({})J",
                R"J(a1NoneTrue[1])J");
}

TEST(JinjaRender, NonePrinting) {
  expect_render(R"J({{ none }} {{ true }} {{ false }} {{ x }} {{ [none, true, 'it''s'] }})J",
                R"J({"x": null})J",
                R"J(None True False None [None, True, 'its'])J");
}

TEST(JinjaRender, DictRepr) {
  expect_render(R"J({{ d }} {{ {'a': [1, 2.5, 'q"'], 'b': {}} }} {{ (1,) }} {{ (1, 'a') }})J",
                R"J({"d": {"k": "v", "n": 1}})J",
                R"J({'k': 'v', 'n': 1} {'a': [1, 2.5, 'q"'], 'b': {}} (1,) (1, 'a'))J");
}

TEST(JinjaRender, StringRepr) {
  expect_render(R"J({{ ['a\nb', "it's", 'say "hi"', 'both \' "', 'tab\t', 'é🙂'] }})J",
                R"J({})J",
                R"J(['a\nb', "it's", 'say "hi"', 'both \' "', 'tab\t', 'é🙂'])J");
}

TEST(JinjaRender, Comparisons) {
  expect_render(R"J({{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 in [1, 2] }} {{ 'b' in 'abc' }} {{ 'k' in d }} {{ 3 not in [1] }} {{ none == none }} {{ 1 != 2 }})J",
                R"J({"d": {"k": 1}})J",
                R"J(True True True True True True True True True True)J");
}

TEST(JinjaRender, Truthiness) {
  expect_render(R"J({% for v in [0, 1, '', 'a', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %})J",
                R"J({})J",
                R"J(FTFTFTFFF)J");
}

TEST(JinjaRender, AndOrValues) {
  expect_render(R"J({{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ not 0 }})J",
                R"J({})J",
                R"J(x b [] True)J");
}

TEST(JinjaRender, InlineIf) {
  expect_render(R"J({{ 'y' if true else 'n' }}{{ 'y' if false }}|{{ 'a' if x is defined else 'b' }})J",
                R"J({})J",
                R"J(y|b)J");
}

TEST(JinjaRender, Slicing) {
  expect_render(R"J({{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }} {{ l[5:] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-1] }} {{ l[-1] }} {{ u[1:] }})J",
                R"J({"l": [1, 2, 3, 4], "s": "hello", "u": "é🙂x"})J",
                R"J([2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3] [3, 4] [] el olleh o 4 🙂x)J");
}

TEST(JinjaRender, AttrAndItem) {
  expect_render(R"J({{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ d['b']['c'] }} {{ d.missing }}|{{ l.0 }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }})J",
                R"J({"d": {"a": 1, "b": {"c": "x"}}, "l": [5]})J",
                R"J(1 1 x x |5 [('a', 1), ('b', {'c': 'x'})] 1 dflt None)J");
}

TEST(JinjaRender, DictKeysNamedLikeMethods) {
  expect_render(R"J({{ d['items'] }} {{ d.keys()|list }} {{ d.values()|list }})J",
                R"J({"d": {"items": 3, "z": 1}})J",
                R"J(3 ['items', 'z'] [3, 1])J");
}

TEST(JinjaRender, LoopVariables) {
  expect_render(R"J({% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('o', 'e') }};{% endfor %})J",
                R"J({})J",
                R"J(1032TrueFalse3bo;2121FalseFalse3ace;3210FalseTrue3bo;)J");
}

TEST(JinjaRender, LoopFilterElse) {
  expect_render(R"J({% for x in l if x % 2 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %})J",
                R"J({"l": [1, 2, 3, 4, 5]})J",
                R"J(1:1/3 3:2/3 5:3/3 |empty)J");
}

TEST(JinjaRender, BreakContinue) {
  expect_render(R"J({% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %})J",
                R"J({})J",
                R"J(0134)J");
}

TEST(JinjaRender, LoopScopeDoesNotLeak) {
  expect_render(R"J({% set x = 1 %}{% for i in [1, 2] %}{% set x = i * 10 %}{{ x }} {% endfor %}{{ x }})J",
                R"J({})J",
                R"J(10 20 1)J");
}

TEST(JinjaRender, Namespace) {
  expect_render(R"J({% set ns = namespace(n=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.found }})J",
                R"J({})J",
                R"J(6 True)J");
}

TEST(JinjaRender, TupleUnpack) {
  expect_render(R"J({% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% set a, b = [1, 2] %}{{ a }}{{ b }})J",
                R"J({"d": {"x": 1, "y": [2]}})J",
                R"J(x=1;y=[2];12)J");
}

TEST(JinjaRender, DictIteration) {
  expect_render(R"J({% for k in d %}{{ k }}{% endfor %}{% for c in 'héy' %}[{{ c }}]{% endfor %})J",
                R"J({"d": {"b": 1, "a": 2}})J",
                R"J(ba[h][é][y])J");
}

TEST(JinjaRender, BlockSet) {
  expect_render(R"J({% set body %}
  hello {{ name }}
{% endset %}[{{ body }}]{% set up | upper %}x{% endset %}{{ up }})J",
                R"J({"name": "bob"})J",
                R"J([  hello bob
]X)J");
}

TEST(JinjaRender, Macro) {
  expect_render(R"J({% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c', punct='.') }})J",
                R"J({})J",
                R"J(Hi a! Hi b? Hi c.)J");
}

TEST(JinjaRender, MacroRecursion) {
  expect_render(R"J({% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }})J",
                R"J({})J",
                R"J(120)J");
}

TEST(JinjaRender, CallBlock) {
  expect_render(R"J({% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %})J",
                R"J({})J",
                R"J(<b>bold 2</b>)J");
}

TEST(JinjaRender, FilterBlock) {
  expect_render(R"J({% filter upper %}abc {{ 'd' }}{% endfilter %})J",
                R"J({})J",
                R"J(ABC D)J");
}

TEST(JinjaRender, StringFilters) {
  expect_render(R"J({{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'aBc'|upper }}|{{ 'aBc'|lower }}|{{ 'hello world-foo'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'a-b-c'|replace('-', '+', 1) }}|{{ 5|string }}|{{ '<a&">'|e }})J",
                R"J({})J",
                R"J(x|a|ABC|abc|Hello World-Foo|Hello|a+b+c|a+b-c|5|&lt;a&amp;&#34;&gt;)J");
}

TEST(JinjaRender, SeqFilters) {
  expect_render(R"J({{ l|length }} {{ l|first }} {{ l|last }} {{ l|join(',') }} {{ l|sum }} {{ l|min }} {{ l|max }} {{ l|reverse|list }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ l|unique|list }} {{ 'abc'|list }} {{ l|batch(2)|list }} {{ d|length }} {{ 'héllo'|length }} {{ l|count }})J",
                R"J({"l": [3, 1, 2, 3], "d": {"a": 1}})J",
                R"J(4 3 3 3,1,2,3 9 1 3 [3, 2, 1, 3] [1, 2, 3, 3] [3, 3, 2, 1] [3, 1, 2] ['a', 'b', 'c'] [[3, 1], [2, 3]] 1 5 4)J");
}

TEST(JinjaRender, DefaultFilter) {
  expect_render(R"J({{ x|default('d') }} {{ none|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', boolean=true) }} {{ 'v'|default('d') }})J",
                R"J({})J",
                R"J(d None d z v)J");
}

TEST(JinjaRender, NumberFilters) {
  expect_render(R"J({{ '12'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 2|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(method='ceil') }} {{ 7|round }})J",
                R"J({})J",
                R"J(12 0 7 3 2.5 2.0 3 2.57 2.0 4.0 3.0 7)J");
}

TEST(JinjaRender, SelectMap) {
  expect_render(R"J({{ users|selectattr('active')|map(attribute='name')|join(',') }}|{{ users|rejectattr('active')|map(attribute='name')|list }}|{{ users|selectattr('role', 'equalto', 'admin')|map(attribute='name')|first }}|{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3, 4]|reject('even')|list }}|{{ ['a', 'b']|map('upper')|list }}|{{ users|map(attribute='age', default=0)|list }})J",
                R"J({"users": [{"name": "ann", "active": true, "role": "admin", "age": 3}, {"name": "bob", "active": false, "role": "user"}]})J",
                R"J(ann|['bob']|ann|[1, 3]|[1, 3]|['A', 'B']|[3, 0])J");
}

TEST(JinjaRender, SortByAttribute) {
  expect_render(R"J({{ users|sort(attribute='name')|map(attribute='name')|join(' ') }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ d|dictsort }} {{ d|items|list }})J",
                R"J({"users": [{"name": "zed"}, {"name": "amy"}], "d": {"b": 1, "a": 2}})J",
                R"J(amy zed ['A', 'b', 'c'] ['A', 'b', 'c'] [('a', 2), ('b', 1)] [('b', 1), ('a', 2)])J");
}

TEST(JinjaRender, Indent) {
  expect_render(R"J([{{ 'a\nb\n\nc'|indent(2) }}] [{{ 'a\nb'|indent(2, first=true) }}] [{{ 'a\n\nb'|indent('> ', blank=true) }}] [{{ 'x\n'|indent }}])J",
                R"J({})J",
                R"J([a
  b

  c] [  a
  b] [a
> 
> b] [x
])J");
}

TEST(JinjaRender, Tojson) {
  expect_render(R"J({{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ 'é"\n'|tojson }}|{{ [1, 2.0, none, true]|tojson }}|{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(sort_keys=true) }}|{{ {}|tojson(indent=2) }}|{{ 'é'|tojson(ensure_ascii=true) }})J",
                R"J({"d": {"z": 1, "a": [1, {"b": null}], "s": "x"}})J",
                R"J({"z": 1, "a": [1, {"b": null}], "s": "x"}|{
  "z": 1,
  "a": [
    1,
    {
      "b": null
    }
  ],
  "s": "x"
}|"é\"\n"|[1, 2.0, null, true]|{"z":1,"a":[1,{"b":null}],"s":"x"}|{"a": [1, {"b": null}], "s": "x", "z": 1}|{}|"\u00e9")J");
}

TEST(JinjaRender, Tests) {
  expect_render(R"J({{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ n is none }} {{ 's' is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ d is mapping }} {{ l is iterable }} {{ l is sequence }} {{ true is boolean }} {{ false is false }} {{ true is true }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is eq 'a' }} {{ 1 is ne 2 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 2 is in [1, 2] }} {{ x is not none }} {{ none is sameas none }} {{ range is callable }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ 2 is gt 1 }} {{ 2 is le 1 }})J",
                R"J({"x": 1, "n": null, "d": {}, "l": [1]})J",
                R"J(True False True True True True True True True True True True True True True True True True True True True True True True True True True True False)J");
}

TEST(JinjaRender, StringMethods) {
  expect_render(R"J({{ '  a b  '.strip() }}|{{ 'xxa'.lstrip('x') }}|{{ 'a\n\n'.rstrip('\n') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'hello world'.title() }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.rfind('c') }}|{{ 'abc'.find('z') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}|{{ '{} and {}'.format(1, 'x') }}|{{ 'a\nb\r\nc'.splitlines() }}|{{ '123'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ 'HeLLo'.upper() }}|{{ 'HeLLo'.lower() }}|{{ 'hello'.capitalize() }})J",
                R"J({})J",
                R"J(a b|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']|True|True|bba|Hello World|2|5|-1|2|a-b|1 and x|['a', 'b', 'c']|True|True|HELLO|hello|Hello)J");
}

TEST(JinjaRender, ThinkSplit) {
  expect_render(R"J({{ c.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') }}|{{ c.split('</think>')[-1].lstrip('\n') }})J",
                R"J({"c": "<think>\nreason\n</think>\n\nanswer"})J",
                R"J(reason|answer)J");
}

TEST(JinjaRender, RangeAndDict) {
  expect_render(R"J({{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }})J",
                R"J({})J",
                R"J([0, 1, 2] [1, 4, 7] [5, 3, 1] {'a': 1, 'b': 'x'})J");
}

TEST(JinjaRender, WithBlock) {
  expect_render(R"J({% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }})J",
                R"J({})J",
                R"J(3False)J");
}

TEST(JinjaRender, PercentFormat) {
  expect_render(R"J({{ '%s-%d' % ('a', 3) }} {{ '%s'|format('x') }} {{ '100%%' % () }})J",
                R"J({})J",
                R"J(a-3 x 100%)J");
}

TEST(JinjaRender, NestedDataFromJson) {
  expect_render(R"J({% for m in messages %}{{ m.role }}:{{ m['content'] }}{% if m.tool_calls %}{% for tc in m.tool_calls %}[{{ tc.function.name }}({{ tc.function.arguments|tojson }})]{% endfor %}{% endif %}
{% endfor %})J",
                R"J({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"q": "x", "n": 2.5}}}]}]})J",
                R"J(user:hiassistant:[f({"q": "x", "n": 2.5})])J");
}

TEST(JinjaRender, RecursiveLoop) {
  expect_render(R"J({% for item in tree recursive %}{{ item.name }}{% if item.children %}({{ loop(item.children) }}){% endif %}{% endfor %})J",
                R"J({"tree": [{"name": "a", "children": [{"name": "b"}, {"name": "c", "children": [{"name": "d"}]}]}, {"name": "e"}]})J",
                R"J(a(bc(d))e)J");
}

TEST(JinjaRender, StringConcatAndCompare) {
  expect_render(R"J({{ 'a' + 'b' }} {{ messages[0]['content'] + '!' }} {{ (messages|length - 1) - 0 }})J",
                R"J({"messages": [{"content": "hey"}]})J",
                R"J(ab hey! 0)J");
}

TEST(JinjaRender, WhitespaceHeavyTemplate) {
  expect_render(R"J({%- for m in msgs %}
    {%- if m == 'a' %}
        {{- 'A' }}
    {%- else %}
        {{- m }}
    {%- endif %}
{%- endfor %}
)J",
                R"J({"msgs": ["a", "b"]})J",
                R"J(Ab)J");
}

TEST(JinjaRender, LoopIterationScope) {
  expect_render(R"J({% set x = 0 %}{% for i in [1, 2, 3] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}|{% set y = 5 %}{% for i in [1, 2] %}{{ y }}{% set y = i %}{% endfor %}{{ y }})J",
                R"J({})J",
                R"J(1230|555)J");
}

TEST(JinjaRender, FormatFilterAndPercent) {
  expect_render(R"J({{ '%.2f'|format(3.14159) }} {{ '%5s|%-4d|%03d'|format('ab', 7, 5) }} {{ '%s and %r' % ('x', 'y') }} {{ '%x %e' % (255, 12345.678) }})J",
                R"J({})J",
                R"J(3.14    ab|7   |005 x and 'y' ff 1.234568e+04)J");
}

TEST(JinjaRender, UnicodeData) {
  expect_render(R"J(→ {{ s }} ← {{ s|upper }} {{ s|length }})J",
                R"J({"s": "日本語 émoji 🙂"})J",
                R"J(→ 日本語 émoji 🙂 ← 日本語 ÉMOJI 🙂 11)J");
}

// jinja2: TemplateSyntaxError: Encountered unknown tag 'foo'.
TEST(JinjaErrors, UnknownTag) { expect_error(R"J({% foo %})J"); }
// Python: ValueError("empty separator"); before, split('') looped until memory ran out (fuzz_jinja).
TEST(JinjaErrors, SplitWithEmptySeparator) {
  auto r = render_vars(R"J({{ 'abc'.split('') }})J", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("empty separator"), std::string::npos) << r.error().message();
  expect_error(R"J({{ 'abc'.rsplit('', 1) }})J");
  expect_render(R"J({{ 'a b'.split(none) }})J", "{}", "['a', 'b']");
}

// jinja2: TemplateSyntaxError: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.
TEST(JinjaErrors, UnclosedIf) { expect_error(R"J({% if x %}abc)J"); }

// jinja2: TemplateSyntaxError: unexpected end of template, expected 'end of print statement'.
TEST(JinjaErrors, UnclosedVar) { expect_error(R"J(abc {{ x )J"); }

// jinja2: TemplateSyntaxError: unexpected 'end of print statement'
TEST(JinjaErrors, BadExpr) { expect_error(R"J({{ 1 + }})J"); }

// jinja2: UndefinedError: 'x' is undefined
TEST(JinjaErrors, UndefinedAttr) { expect_error(R"J({{ x.y.z }})J"); }

// jinja2: TemplateError: custom failure
TEST(JinjaErrors, RaiseException) { expect_error(R"J(ok{{ raise_exception('custom failure') }})J"); }

// jinja2: TypeError: can only concatenate str (not "int") to str
TEST(JinjaErrors, AddStrInt) { expect_error(R"J({{ 'a' + 1 }})J"); }

// jinja2: ZeroDivisionError: integer division or modulo by zero
TEST(JinjaErrors, DivZero) { expect_error(R"J({{ 1 // 0 }})J"); }

// jinja2: SecurityError: access to attribute 'append' of 'list' object is unsafe.
TEST(JinjaErrors, ListAppendForbidden) { expect_error(R"J({% set l = [1] %}{{ l.append(2) }})J"); }

// jinja2: UndefinedError: 'nope' is undefined
TEST(JinjaErrors, CallUndefined) { expect_error(R"J({{ nope() }})J"); }

// jinja2: TemplateRuntimeError: cannot assign attribute on non-namespace object
TEST(JinjaErrors, SetAttrNonNamespace) { expect_error(R"J({% set d = {} %}{% set d.x = 1 %})J"); }

// jinja2: TemplateAssertionError: No filter named 'nofilter'.
TEST(JinjaErrors, UnknownFilter) { expect_error(R"J({{ 1|nofilter }})J"); }

// jinja2: TypeError: 'int' object is not iterable
TEST(JinjaErrors, IterateInt) { expect_error(R"J({% for x in 5 %}{% endfor %})J"); }

// jinja2: SyntaxError: 'break' outside loop (<template>, line 11)
TEST(JinjaErrors, BreakOutsideLoop) { expect_error(R"J({% break %})J"); }

// jinja2: TypeError: '<' not supported between instances of 'int' and 'str'
TEST(JinjaErrors, CompareMixed) { expect_error(R"J({{ 1 < 'a' }})J"); }

}  // namespace
}  // namespace lm::chat
