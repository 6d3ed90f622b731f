#include "consumers/retry_schedule.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <sodium.h>

#include "outbox/outbox_retention.hpp"

namespace keyflow {

using namespace std::chrono_literals;

RetrySchedule::Delays RetrySchedule::default_delays() {
  return {0ms, 5s, 5min, 30min, 2h, 5h, 10h, 10h};
}

RetrySchedule::RetrySchedule(Delays delays) : delays_(std::move(delays)) {
  if (delays_.empty() || delays_.front() != 0ms) {
    throw std::invalid_argument("a retry schedule starts with 0 (the first attempt)");
  }
}

std::optional<RetrySchedule> RetrySchedule::parse(std::string_view text) {
  Delays delays;
  while (!text.empty() || delays.empty()) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    // A bare number would be read as seconds; a schedule says its unit.
    if (item.empty() || std::isdigit(static_cast<unsigned char>(item.back()))) return std::nullopt;
    const auto delay = parse_retention(item);
    if (!delay) return std::nullopt;
    delays.push_back(*delay);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // a trailing comma
  }
  if (delays.size() > 100 || delays.front() != 0ms) return std::nullopt;
  return RetrySchedule(std::move(delays));
}

std::chrono::milliseconds RetrySchedule::base_delay(int next_attempt) const {
  if (next_attempt < 1 || next_attempt > max_attempts()) return 0ms;
  return delays_[static_cast<std::size_t>(next_attempt - 1)];
}

std::optional<std::chrono::milliseconds> RetrySchedule::delay_before(int next_attempt,
                                                                     double jitter) const {
  if (next_attempt < 2 || next_attempt > max_attempts()) return std::nullopt;
  const double j = std::clamp(jitter, 0.0, 1.0);
  const auto base = static_cast<double>(base_delay(next_attempt).count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(base * (0.8 + 0.4 * j)));
}

double random_jitter() {
  constexpr std::uint32_t kSteps = 1u << 30;
  return static_cast<double>(randombytes_uniform(kSteps)) / kSteps;
}

}  // namespace keyflow
