// What every fuzz target of tests/fuzz shares: how a broken property is reported, and the rule
// that keyflow::Error is the one exception bad input may end in.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <typeinfo>

#include "engine/core/errc.hpp"

namespace keyflow::fuzz {

// Prints the property and aborts, so that libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "\n*** fuzz property violated at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

// Runs f(). True when it returned, false when it threw keyflow::Error (the expected answer to
// bad input), which on_error may check further; any other exception is a finding: it is
// printed, with its type, and aborts.
template <class F, class OnError = void (*)(const Error&)>
bool accepts(
    F&& f, OnError&& on_error = [](const Error&) {}) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    on_error(e);
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n*** unexpected exception %s: %s\n", typeid(e).name(), e.what());
  } catch (...) {
    std::fprintf(stderr, "\n*** unexpected exception of a type not derived from std::exception\n");
  }
  std::fflush(stderr);
  std::abort();
}

inline bool has_nul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

}  // namespace keyflow::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? void(0) : ::keyflow::fuzz::fail(#condition, __FILE__, __LINE__))
