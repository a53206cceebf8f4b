// Tree-walking interpreter for a parsed Jinja template (jinja_ast.h), with the semantics of
// jinja2's ImmutableSandboxedEnvironment: default Undefined (prints as "", iterates empty, errors
// on attribute access, arithmetic and calls), lists and dicts cannot be mutated (only namespace
// attributes can be assigned), range() is capped. One Interp per render: not thread-safe, but any
// number of renders of the same Template can run concurrently.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"

namespace lm::chat::jinja {

// Guards against hostile templates.
struct Limits {
  size_t max_output = 32u << 20;       // bytes of any rendered string
  uint64_t max_iterations = 2000000;   // loop iterations over the whole render
  int max_call_depth = 100;            // nested macro calls / recursive loops
};

struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Frame> parent;
  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value v);
};

class Interp {
 public:
  // vars: the template's top-level variables (messages, bos_token, ...), a dict.
  Interp(const Template& t, const Value& vars, Limits limits = {});
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  Result<std::string> render();

  // Used by the builtins.
  Result<Value> apply_filter(const std::string& name, const Value& input, CallArgs& args, size_t off);
  Result<bool> apply_test(const std::string& name, const Value& input, CallArgs& args, size_t off);
  Result<Value> get_attr(const Value& obj, const std::string& name);
  Result<Value> get_item(const Value& obj, const Value& key);
  Status check_size(size_t n) const;
  Error error_at(size_t off, const Error& e) const;

 private:
  enum class Flow { Normal, Break, Continue };

  Result<Flow> exec_body(const Body& body, std::string& out);
  Result<Flow> exec(const Stmt& s, std::string& out);
  Result<Flow> exec_if(const Stmt& s, std::string& out);
  Status exec_for(const Stmt& s, const Value& iterable, int depth, std::string& out);
  Status exec_set(const Stmt& s);
  Status assign(const std::vector<std::string>& targets, const Value& v, size_t off);
  Value make_macro(const Stmt& s, std::string name);
  Result<Value> call_macro(const Stmt& s, const std::shared_ptr<Frame>& closure, CallArgs& args);
  Status exec_call_block(const Stmt& s, std::string& out);

  Result<Value> eval(const Expr& e);
  Result<Value> eval_binary(const Expr& e);
  Result<Value> eval_compare(const Expr& e);
  Result<Value> eval_call(const Expr& e);
  Result<Value> eval_slice(const Expr& e);
  Status eval_args(const Expr& e, size_t first, CallArgs& args);
  Value lookup(const std::string& name) const;

  const Template& t_;
  Value vars_;
  Limits limits_;
  std::shared_ptr<Frame> frame_;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
  const Value* filter_input_ = nullptr;  // the body text of a filter block / block set
  // Frames captured by macros: a macro stored in the frame it closes over is a reference cycle,
  // broken by clearing these frames when the render ends.
  std::vector<std::shared_ptr<Frame>> closures_;
};

// The builtins (jinja_builtins.cpp).
Result<Value> builtin_filter(Interp& in, const std::string& name, const Value& v, CallArgs& args,
                             bool& found);
Result<bool> builtin_test(Interp& in, const std::string& name, const Value& v, CallArgs& args,
                          bool& found);
// A method of a str, list or dict (Python's), or found=false.
Result<Value> call_method(Interp& in, const Value& obj, const std::string& name, CallArgs& args);
bool has_method(const Value& obj, const std::string& name);
// range, namespace, dict, raise_exception, strftime_now; undefined when unknown.
Value builtin_global(const std::string& name);
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// Python semantics shared by the interpreter and the builtins.
Result<ValueList> iterate(const Value& v);      // list items, dict keys, str chars
Result<bool> contains(const Value& container, const Value& item);
Result<int> compare(const Value& a, const Value& b);  // <0, 0, >0; TypeError on mixed types
Result<int64_t> length(const Value& v);
Result<Value> percent_format(const std::string& fmt, const Value& args);  // Python's str % args

// Marks an Error raised by raise_exception, so positions are added but the message kept.
inline constexpr const char* kTemplateErrorPrefix = "template error at ";

}  // namespace lm::chat::jinja
