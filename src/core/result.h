// Result<T>: the return type of every recoverable failure (bad file, bad request, ...).
//
// An Error carries a human-readable message; each layer adds context in front of it with
// `wrap`, so a failure reads top-down: "loading model.gguf: tensor blk.3.attn_q.weight: ...".
// Programmer errors are not Results: they abort through LM_CHECK (core/check.h).
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace lm {

class Error {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}

  const std::string& message() const { return message_; }

  // Prepends "context: " to the message.
  Error wrap(std::string_view context) const& {
    return Error(std::string(context) + ": " + message_);
  }
  Error wrap(std::string_view context) && {
    message_.insert(0, std::string(context) + ": ");
    return std::move(*this);
  }

 private:
  std::string message_;
};

// Builds an Error from a fmt format string.
template <typename... Args>
Error errorf(fmt::format_string<Args...> f, Args&&... args) {
  return Error(fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { check_ok(); return std::get<0>(v_); }
  const T& value() const& { check_ok(); return std::get<0>(v_); }
  T&& value() && { check_ok(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { check_err(); return std::get<1>(v_); }
  Error&& error() && { check_err(); return std::get<1>(std::move(v_)); }

  // Adds context to the error, if any.
  Result wrap(std::string_view context) && {
    if (!ok()) return std::move(*this).error().wrap(context);
    return std::move(*this);
  }

 private:
  void check_ok() const {
    if (!ok()) {
      fmt::print(stderr, "fatal: value() on an error Result: {}\n", std::get<1>(v_).message());
      std::abort();
    }
  }
  void check_err() const {
    if (ok()) {
      fmt::print(stderr, "fatal: error() on an ok Result\n");
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

struct Ok {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}  // NOLINT
  Result(Error error) : err_(std::move(error)), has_err_(true) {}  // NOLINT

  bool ok() const { return !has_err_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }
  Result wrap(std::string_view context) && {
    if (has_err_) err_ = std::move(err_).wrap(context);
    return std::move(*this);
  }

 private:
  Error err_{""};
  bool has_err_ = false;
};

using Status = Result<void>;

}  // namespace lm

#define LM_CONCAT_INNER(a, b) a##b
#define LM_CONCAT(a, b) LM_CONCAT_INNER(a, b)

// LM_TRY(auto x, expr): evaluates expr (a Result); on error returns it from the enclosing
// function, else binds the value.
#define LM_TRY(decl, expr) LM_TRY_IMPL(LM_CONCAT(lm_try_, __LINE__), decl, expr)
#define LM_TRY_IMPL(tmp, decl, expr)            \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()

// LM_TRY_STATUS(expr): for Result<void>.
#define LM_TRY_STATUS(expr)                                   \
  do {                                                        \
    auto lm_try_s = (expr);                                   \
    if (!lm_try_s.ok()) return std::move(lm_try_s).error();   \
  } while (0)
