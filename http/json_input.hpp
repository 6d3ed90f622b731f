#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/core/clock.hpp"

namespace keyflow::http {

// A request body read strictly: a JSON object with only the fields the route knows, each of
// the right type. Every failure throws Error naming the field, before anything is written.
class JsonInput {
 public:
  // An empty body reads as {} (so POST .../rotate with no body works).
  JsonInput(std::string_view body, std::initializer_list<std::string_view> allowed);

  // Present in the body, null included: for PATCH, where null clears a field.
  bool has(std::string_view name) const { return object_.contains(name); }
  bool is_null(std::string_view name) const;

  std::string required_string(std::string_view name) const;
  std::optional<bool> optional_bool(std::string_view name) const;
  // A JSON object, serialized.
  std::optional<std::string> optional_object(std::string_view name) const;
  std::optional<std::string> optional_string(std::string_view name) const;
  // An id (engine/core/ids.hpp) given as a JSON integer (seed 001: "organization_id": 432) or as a
  // string of digits (seed 002: "project_id": "string"), in its canonical digits.
  std::optional<std::string> optional_id(std::string_view name) const;
  std::string required_id(std::string_view name) const;
  std::optional<std::int64_t> optional_int(std::string_view name, std::int64_t min,
                                           std::int64_t max) const;
  std::optional<TimePoint> optional_time(std::string_view name) const;
  // nullopt when absent; an array of strings otherwise.
  std::optional<std::vector<std::string>> optional_strings(std::string_view name) const;
  // nullopt when absent; an array of integers, each in [min, max], otherwise.
  std::optional<std::vector<std::int64_t>> optional_ints(std::string_view name, std::int64_t min,
                                                         std::int64_t max) const;
  // As optional_strings, or one string of comma-separated items ("READ,CREATE"), trimmed.
  std::optional<std::vector<std::string>> optional_string_list(std::string_view name) const;

 private:
  const boost::json::value* find(std::string_view name) const;
  boost::json::object object_;
};

// A route that takes no body (rotation-secret, a new event write key): empty or {}.
inline void read_empty_body(std::string_view body) {
  const JsonInput in(body, {});
}

}  // namespace keyflow::http
