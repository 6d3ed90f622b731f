#include "consumers/delivery_outcome.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

namespace keyflow {
namespace {

constexpr std::chrono::seconds kMaxRetryAfter = std::chrono::hours(24);

}  // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, TimePoint now) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return kMaxRetryAfter;
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate, the form senders must use: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(at - now);
}

DeliveryOutcome decide_outcome(const WebhookResponse& response, int attempt, TimePoint now,
                               const RetrySchedule& schedule, double jitter) {
  if (response.succeeded()) return {"succeeded", now};
  if (response.status_code == 410) return {"dead", now, true};
  const auto delay = schedule.delay_before(attempt + 1, jitter);
  if (!delay) return {"dead", now};
  auto next = now + *delay;
  if ((response.status_code == 429 || response.status_code == 503) &&
      !response.retry_after.empty()) {
    if (const auto wait = parse_retry_after(response.retry_after, now)) {
      next = std::max(next, now + std::min(*wait, kMaxRetryAfter));
    }
  }
  return {"pending", next};
}

}  // namespace keyflow
