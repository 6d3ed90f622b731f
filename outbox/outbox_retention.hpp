#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace keyflow {

// How long published outbox rows are kept (KEYFLOW_OUTBOX_RETENTION) unless set.
inline constexpr std::chrono::seconds kDefaultOutboxRetention = std::chrono::hours(24 * 7);

// Reads a retention period: a whole number with a unit, d, h, m or s ("7d", "36h", "90m"), or
// plain seconds. "0" keeps published rows for ever. nullopt when malformed.
std::optional<std::chrono::seconds> parse_retention(std::string_view text);

}  // namespace keyflow
