#include "outbox/outbox_retention.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace keyflow {

std::optional<std::chrono::seconds> parse_retention(std::string_view text) {
  std::int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'd':
        unit = 86400;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        unit = 1;
        break;
      default:
        unit = 0;  // no unit: seconds
    }
    if (unit != 0) {
      text.remove_suffix(1);
    } else {
      unit = 1;
    }
  }
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  // Ten thousand years is for ever enough; beyond, the seconds would overflow PostgreSQL's
  // interval arithmetic.
  if (value > std::numeric_limits<std::int64_t>::max() / unit ||
      value * unit > std::int64_t{10000} * 365 * 86400) {
    return std::nullopt;
  }
  return std::chrono::seconds(value * unit);
}

}  // namespace keyflow
