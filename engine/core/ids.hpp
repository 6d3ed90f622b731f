#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyflow {

// Resource ids (organizations, projects, environments, API keys, webhook subscriptions and
// connections) are integers drawn at random in [1, 2^53): they say nothing about how many
// resources exist, cannot be walked, and are exact in every JSON parser, JavaScript's doubles
// included. Seed 001 types them as int64 and seed 002 as strings, so the API reads either and
// renders them as strings of digits (connections, seed 003's, as JSON integers).
inline constexpr std::int64_t kMaxId = (std::int64_t{1} << 53) - 1;

// A new random id.
std::int64_t random_id();
// The same, in the canonical decimal form the engine passes around and renders.
std::string new_id();

// 1 to 16 decimal digits without a leading zero, at most kMaxId; nullopt otherwise.
std::optional<std::int64_t> parse_id(std::string_view text);
inline bool is_id(std::string_view text) {
  return parse_id(text).has_value();
}

// A random (version 4) UUID in canonical text form, for what is not a resource (event ids,
// serve instances, event write keys).
std::string new_uuid();

}  // namespace keyflow
