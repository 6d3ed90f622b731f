#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/core/clock.hpp"

namespace keyflow {

// RFC 3339 in UTC with milliseconds: 2026-11-23T15:48:00.123Z.
std::string format_timestamp(TimePoint t);

// Accepts RFC 3339 / ISO 8601 date-times with an offset ('Z' or ±HH:MM), and PostgreSQL's
// text form of timestamptz ("2026-11-23 15:48:00.123456+00"), for years 1900 to 2200.
// nullopt when malformed or out of that range.
std::optional<TimePoint> parse_timestamp(std::string_view text);

}  // namespace keyflow
