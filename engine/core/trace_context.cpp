#include "engine/core/trace_context.hpp"

namespace keyflow {
namespace {

thread_local std::string_view current_traceparent;

bool lower_hex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

std::optional<std::string> valid_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const auto version = h.substr(0, 2), trace_id = h.substr(3, 32), parent_id = h.substr(36, 16),
             flags = h.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace_id) || !lower_hex(parent_id) ||
      !lower_hex(flags) || all_zero(trace_id) || all_zero(parent_id)) {
    return std::nullopt;
  }
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (h.size() > 55 && h[55] != '-') return std::nullopt;
  // What comes after a later version's fields is not understood: only the known part goes on.
  return std::string(h.substr(0, 55));
}

TraceScope::TraceScope(std::string_view traceparent) : previous_(current_traceparent) {
  current_traceparent = traceparent;
}

TraceScope::~TraceScope() {
  current_traceparent = previous_;
}

std::string_view TraceScope::current() {
  return current_traceparent;
}

}  // namespace keyflow
