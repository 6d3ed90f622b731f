#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace keyflow {

// When to try a failed webhook delivery again: exponential backoff with "equal jitter" (half
// fixed, half random), capped, for a fixed number of attempts. Pure: the caller passes the
// jitter source's value.
class RetrySchedule {
 public:
  struct Options {
    std::chrono::milliseconds initial{5000};
    double multiplier = 2.0;
    std::chrono::milliseconds max_delay{std::chrono::hours(10)};
    int max_attempts = 8;  // including the first
  };

  RetrySchedule() : RetrySchedule(Options{}) {}
  explicit RetrySchedule(Options options) : options_(options) {}

  // The delay before attempt number `next_attempt` (2 for the first retry), given a jitter
  // fraction in [0, 1): the delay lies in [base/2, base). nullopt once attempts run out: the
  // delivery is dead.
  std::optional<std::chrono::milliseconds> delay_before(int next_attempt, double jitter) const;

  // The un-jittered base delay before attempt `next_attempt`.
  std::chrono::milliseconds base_delay(int next_attempt) const;

  int max_attempts() const { return options_.max_attempts; }

 private:
  Options options_;
};

}  // namespace keyflow
