// LM_CHECK: assertions on programmer errors (broken invariants), active in every build.
// They abort with file:line and a message. Never use them on input: input errors are Results.
#pragma once

#include <fmt/format.h>

#include <cstdlib>

namespace lm::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const std::string& msg);
}

#define LM_CHECK(cond, ...)                                                          \
  do {                                                                               \
    if (!(cond)) [[unlikely]]                                                        \
      ::lm::detail::check_failed(__FILE__, __LINE__, #cond, fmt::format("" __VA_ARGS__)); \
  } while (0)
