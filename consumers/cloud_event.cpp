#include "consumers/cloud_event.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json/parse.hpp>

#include "engine/core/time_format.hpp"
#include "engine/core/trace_context.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {

std::optional<CloudEvent> parse_cloud_event(const KafkaMessage& message, std::string& error) {
  const auto attribute = [&](std::string_view name) -> std::string {
    return std::string(message.header(name).value_or(""));
  };
  CloudEvent event;
  event.id = attribute("ce_id");
  std::transform(event.id.begin(), event.id.end(), event.id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  event.type = attribute("ce_type");
  event.source = attribute("ce_source");
  event.subject = attribute("ce_subject");
  if (event.subject.empty()) event.subject = message.key;
  event.time = attribute("ce_time");
  // A malformed trace context is dropped, not the event.
  event.traceparent = valid_traceparent(attribute("ce_traceparent")).value_or("");
  if (!is_uuid(event.id)) {
    error = "ce_id is missing or not a UUID";
    return std::nullopt;
  }
  if (event.type.empty()) {
    error = "ce_type is missing";
    return std::nullopt;
  }
  if (event.subject.empty()) {
    error = "neither ce_subject nor a message key";
    return std::nullopt;
  }
  if (!parse_timestamp(event.time)) {
    error = "ce_time is missing or not RFC 3339";
    return std::nullopt;
  }
  boost::system::error_code ec;
  auto value = boost::json::parse(message.value, ec);
  if (ec || !value.is_object()) {
    error = "the value is not a JSON object";
    return std::nullopt;
  }
  event.data = std::move(value.as_object());
  return event;
}

TimePoint event_time(const CloudEvent& event) {
  return parse_timestamp(event.time).value_or(TimePoint{});
}

}  // namespace keyflow
