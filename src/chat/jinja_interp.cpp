#include "chat/jinja_interp.h"

#include <fmt/format.h>

#include <cmath>

#include "chat/jinja_lexer.h"

namespace lm::chat::jinja {

constexpr uint32_t kMaxValueDepth = 200;

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    for (const auto& [k, v] : f->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Frame::set(const std::string& name, Value v) {
  for (auto& [k, ov] : vars) {
    if (k == name) {
      ov = std::move(v);
      return;
    }
  }
  vars.emplace_back(name, std::move(v));
}

Interp::Interp(const Template& t, const Value& vars, Limits limits)
    : t_(t), vars_(vars), limits_(limits), frame_(std::make_shared<Frame>()) {}

Interp::~Interp() {
  for (auto& f : closures_) {
    std::vector<std::pair<std::string, Value>> vars;
    vars.swap(f->vars);  // destroyed here, after the frame no longer holds them
    f->parent.reset();
  }
}

Error Interp::error_at(size_t off, const Error& e) const {
  if (e.message().rfind(kTemplateErrorPrefix, 0) == 0) return e;
  return Error(fmt::format("{}{}: {}", kTemplateErrorPrefix, source_pos(t_.source, off), e.message()));
}

Status Interp::check_size(size_t n) const {
  if (n > limits_.max_output) return errorf("output exceeds the limit of {} bytes", limits_.max_output);
  return Ok{};
}

Result<std::string> Interp::render() {
  std::string out;
  LM_TRY(Flow f, exec_body(t_.body, out));
  (void)f;
  return out;
}

Value Interp::lookup(const std::string& name) const {
  if (const Value* v = frame_->find(name)) return *v;
  if (const Value* v = vars_.dict_data().find_str(name)) return *v;
  Value g = builtin_global(name);
  if (!g.is_undefined()) return g;
  return Value::undefined(fmt::format("'{}' is undefined", name));
}

// ---- statements ----

Result<Interp::Flow> Interp::exec_body(const Body& body, std::string& out) {
  for (const auto& s : body) {
    LM_TRY(Flow f, exec(*s, out));
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Result<Interp::Flow> Interp::exec(const Stmt& s, std::string& out) {
  switch (s.kind) {
    case SKind::Data:
      out += s.text;
      if (auto st = check_size(out.size()); !st.ok()) return error_at(s.off, st.error());
      return Flow::Normal;
    case SKind::Output: {
      LM_TRY(Value v, eval(*s.expr));
      out += v.to_str();
      if (auto st = check_size(out.size()); !st.ok()) return error_at(s.off, st.error());
      return Flow::Normal;
    }
    case SKind::If: return exec_if(s, out);
    case SKind::For: {
      LM_TRY(Value it, eval(*s.expr));
      LM_TRY_STATUS(exec_for(s, it, 0, out));
      return Flow::Normal;
    }
    case SKind::Set: LM_TRY_STATUS(exec_set(s)); return Flow::Normal;
    case SKind::Macro: frame_->set(s.text, make_macro(s, s.text)); return Flow::Normal;
    case SKind::CallBlock: LM_TRY_STATUS(exec_call_block(s, out)); return Flow::Normal;
    case SKind::FilterBlock: {
      std::string body;
      LM_TRY(Flow f, exec_body(s.bodies[0], body));
      Value text(std::move(body));
      const Value* saved = filter_input_;
      filter_input_ = &text;
      auto r = eval(*s.expr2);
      filter_input_ = saved;
      if (!r.ok()) return std::move(r).error();
      out += r->to_str();
      return f;
    }
    case SKind::With: {
      auto inner = std::make_shared<Frame>();
      inner->parent = frame_;
      for (size_t i = 0; i < s.targets.size(); ++i) {
        LM_TRY(Value v, eval(*s.conds[i]));
        inner->set(s.targets[i], std::move(v));
      }
      auto saved = frame_;
      frame_ = inner;
      auto r = exec_body(s.bodies[0], out);
      frame_ = saved;
      return r;
    }
    case SKind::Scope: return exec_body(s.bodies[0], out);
    case SKind::Break: return Flow::Break;
    case SKind::Continue: return Flow::Continue;
  }
  return Flow::Normal;
}

Result<Interp::Flow> Interp::exec_if(const Stmt& s, std::string& out) {
  for (size_t i = 0; i < s.conds.size(); ++i) {
    LM_TRY(Value c, eval(*s.conds[i]));
    if (c.truthy()) return exec_body(s.bodies[i], out);
  }
  return exec_body(s.bodies.back(), out);
}

Status Interp::assign(const std::vector<std::string>& targets, const Value& v, size_t off) {
  if (v.depth() > kMaxValueDepth) return error_at(off, Error("value nested too deeply"));
  if (targets.size() == 1) {
    frame_->set(targets[0], v);
    return Ok{};
  }
  auto items = iterate(v);
  if (!items.ok()) return error_at(off, items.error());
  if (items->size() != targets.size()) {
    return error_at(off, errorf("cannot unpack {} values into {} names", items->size(), targets.size()));
  }
  for (size_t i = 0; i < targets.size(); ++i) frame_->set(targets[i], (*items)[i]);
  return Ok{};
}

Status Interp::exec_set(const Stmt& s) {
  Value v;
  if (s.expr) {
    LM_TRY(v, eval(*s.expr));
  } else {
    std::string body;
    LM_TRY(Flow f, exec_body(s.bodies[0], body));
    (void)f;
    v = Value(std::move(body));
    if (s.expr2) {
      const Value* saved = filter_input_;
      filter_input_ = &v;
      auto r = eval(*s.expr2);
      filter_input_ = saved;
      if (!r.ok()) return std::move(r).error();
      v = std::move(*r);
    }
  }
  if (!s.attr.empty()) {
    Value ns = lookup(s.targets[0]);
    if (!ns.is_namespace()) {
      return error_at(s.off, Error("cannot assign attribute on non-namespace object"));
    }
    if (v.depth() > kMaxValueDepth) return error_at(s.off, Error("value nested too deeply"));
    ns.dict_data().set(Value(s.attr), std::move(v));
    return Ok{};
  }
  return assign(s.targets, v, s.off);
}

namespace {

Value make_loop(const ValueList& items, size_t i, int depth) {
  Value loop = Value::dict();
  auto& d = loop.dict_data();
  int64_t n = static_cast<int64_t>(items.size());
  int64_t k = static_cast<int64_t>(i);
  d.set(Value("index"), Value(k + 1));
  d.set(Value("index0"), Value(k));
  d.set(Value("revindex"), Value(n - k));
  d.set(Value("revindex0"), Value(n - k - 1));
  d.set(Value("first"), Value(k == 0));
  d.set(Value("last"), Value(k == n - 1));
  d.set(Value("length"), Value(n));
  d.set(Value("depth"), Value(static_cast<int64_t>(depth + 1)));
  d.set(Value("depth0"), Value(static_cast<int64_t>(depth)));
  d.set(Value("previtem"), i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
  d.set(Value("nextitem"), i + 1 < items.size() ? items[i + 1] : Value::undefined("there is no next item"));
  d.set(Value("cycle"), Value::func("cycle", [k](CallArgs& a) -> Result<Value> {
          if (a.args.empty()) return Error("no items for cycling given");
          return a.args[static_cast<size_t>(k) % a.args.size()];
        }));
  return loop;
}

}  // namespace

Status Interp::exec_for(const Stmt& s, const Value& iterable, int depth, std::string& out) {
  if (depth > limits_.max_call_depth) return error_at(s.off, Error("recursion too deep"));
  auto all = iterate(iterable);
  if (!all.ok()) return error_at(s.expr->off, all.error());
  auto loop_frame = std::make_shared<Frame>();
  loop_frame->parent = frame_;
  auto saved = frame_;
  frame_ = loop_frame;
  auto run = [&]() -> Status {
    ValueList items;
    if (s.expr2) {
      for (auto& v : *all) {
        LM_TRY_STATUS(assign(s.targets, v, s.off));
        LM_TRY(Value c, eval(*s.expr2));
        if (c.truthy()) items.push_back(std::move(v));
      }
    } else {
      items = std::move(*all);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (++iterations_ > limits_.max_iterations) {
        return error_at(s.off, errorf("more than {} loop iterations", limits_.max_iterations));
      }
      // jinja2 gives each iteration a fresh scope over the enclosing one: a `set` in the body
      // does not carry over to the next iteration.
      frame_ = std::make_shared<Frame>();
      frame_->parent = saved;
      LM_TRY_STATUS(assign(s.targets, items[i], s.off));
      Value loop = make_loop(items, i, depth);
      if (s.flag) {
        const Stmt* sp = &s;
        Interp* self = this;
        auto recurse = Value::func("loop", [self, sp, depth](CallArgs& a) -> Result<Value> {
          if (a.args.empty()) return Error("loop() takes one argument");
          std::string inner;
          LM_TRY_STATUS(self->exec_for(*sp, a.args[0], depth + 1, inner));
          return Value(std::move(inner));
        });
        // A recursive loop is callable: keep the attributes on a dict, the call on "__call__".
        loop.dict_data().set(Value("__call__"), recurse);
      }
      frame_->set("loop", loop);
      LM_TRY(Flow f, exec_body(s.bodies[0], out));
      if (f == Flow::Break) break;
    }
    if (items.empty()) {
      LM_TRY(Flow f, exec_body(s.bodies[1], out));
      (void)f;
    }
    return Ok{};
  };
  Status st = run();
  frame_ = saved;
  return st;
}

Value Interp::make_macro(const Stmt& s, std::string name) {
  const Stmt* sp = &s;
  auto closure = frame_;
  if (closures_.empty() || closures_.back() != closure) closures_.push_back(closure);
  Interp* self = this;
  return Value::func(std::move(name), [self, sp, closure](CallArgs& a) -> Result<Value> {
    return self->call_macro(*sp, closure, a);
  });
}

Result<Value> Interp::call_macro(const Stmt& s, const std::shared_ptr<Frame>& closure, CallArgs& a) {
  if (call_depth_ >= limits_.max_call_depth) return error_at(s.off, Error("macro recursion too deep"));
  auto f = std::make_shared<Frame>();
  f->parent = closure;
  auto saved = frame_;
  frame_ = f;
  ++call_depth_;
  auto run = [&]() -> Result<Value> {
    size_t n = s.targets.size();
    if (a.args.size() > n) {
      f->set("varargs", Value::list(ValueList(a.args.begin() + static_cast<ptrdiff_t>(n), a.args.end())));
    } else {
      f->set("varargs", Value::list());
    }
    Value kwargs = Value::dict();
    for (size_t i = 0; i < n; ++i) {
      if (i < a.args.size()) {
        f->set(s.targets[i], a.args[i]);
        continue;
      }
      bool found = false;
      for (const auto& [k, v] : a.kwargs) {
        if (k == s.targets[i]) {
          f->set(s.targets[i], v);
          found = true;
        }
      }
      if (found) continue;
      if (s.conds[i]) {
        LM_TRY(Value d, eval(*s.conds[i]));
        f->set(s.targets[i], std::move(d));
      } else {
        f->set(s.targets[i], Value::undefined(fmt::format("parameter '{}' was not provided", s.targets[i])));
      }
    }
    for (const auto& [k, v] : a.kwargs) {
      bool is_param = false;
      for (const auto& t : s.targets) is_param |= t == k;
      if (k == "caller") f->set("caller", v);
      else if (!is_param) kwargs.dict_data().set(Value(k), v);
    }
    f->set("kwargs", kwargs);
    std::string out;
    LM_TRY(Flow fl, exec_body(s.bodies[0], out));
    (void)fl;
    return Value(std::move(out));
  };
  auto r = run();
  --call_depth_;
  frame_ = saved;
  return r;
}

Status Interp::exec_call_block(const Stmt& s, std::string& out) {
  const Expr& call = *s.expr;
  LM_TRY(Value callee, eval(*call.kids[0]));
  if (!callee.is_func()) return error_at(call.off, Error("call block target is not callable"));
  CallArgs args;
  LM_TRY_STATUS(eval_args(call, 1, args));
  // `caller` is a macro over the call block's body and parameters.
  args.kwargs.emplace_back("caller", make_macro(s, "caller"));
  auto r = callee.call(args);
  if (!r.ok()) return error_at(call.off, r.error());
  out += r->to_str();
  return check_size(out.size());
}

}  // namespace lm::chat::jinja
