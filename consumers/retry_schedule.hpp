#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

namespace keyflow {

// When to try a failed webhook delivery again: a list of delays, one per attempt, each
// jittered by ±20% so that retries of one outage spread out. The first entry is the first
// attempt, sent as soon as the event is consumed, so it is always 0. Pure: the caller passes
// the jitter source's value.
class RetrySchedule {
 public:
  using Delays = std::vector<std::chrono::milliseconds>;

  // Svix's published schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
  static Delays default_delays();

  RetrySchedule() : RetrySchedule(default_delays()) {}
  // Throws std::invalid_argument when delays is empty or its first entry is not 0.
  explicit RetrySchedule(Delays delays);

  // "0s,5s,5m,30m,2h,5h,10h,10h" (KEYFLOW_WEBHOOK_RETRY_SCHEDULE): durations with a unit
  // (s, m, h, d), comma-separated, the first 0; nullopt otherwise.
  static std::optional<RetrySchedule> parse(std::string_view text);

  // The delay before attempt number `next_attempt` (2 for the first retry), given a jitter
  // fraction in [0, 1): within ±20% of the schedule's entry. nullopt once attempts run out:
  // the delivery is dead.
  std::optional<std::chrono::milliseconds> delay_before(int next_attempt, double jitter) const;

  // The un-jittered delay before attempt `next_attempt`.
  std::chrono::milliseconds base_delay(int next_attempt) const;

  int max_attempts() const { return static_cast<int>(delays_.size()); }

 private:
  Delays delays_;
};

// A jitter fraction in [0, 1) from libsodium's random numbers.
double random_jitter();

}  // namespace keyflow
