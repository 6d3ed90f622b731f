#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyflow {

// A W3C Trace Context traceparent header as sent, when it is one: version 00's
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lowercase, ids not all zero; a
// later version's first 55 characters in that form followed by "-..." (the spec's forward
// compatibility). Anything else is dropped, as the spec asks, never passed on.
std::optional<std::string> valid_traceparent(std::string_view header);

// The traceparent of the HTTP request the calling thread is handling, for the outbox rows its
// changes write (and from there the Kafka headers and webhook POSTs); empty outside one.
// Ambient, as tracing contexts are, so that no service signature carries it.
class TraceScope {
 public:
  explicit TraceScope(std::string_view traceparent);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
  static std::string_view current();

 private:
  std::string_view previous_;
};

}  // namespace keyflow
