#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace keyflow {

// Lets one log line through per interval and counts the occurrences held back meanwhile, so
// that a flood (failed accepts, failed authentications) costs a line a second, not a disk.
// Thread-safe; `now` comes from the caller so that tests need no sleeping.
class LogLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}

  // 0 when this occurrence should not be logged; otherwise how many occurrences the line
  // stands for (this one and those held back since the last line).
  std::uint64_t admit(TimePoint now) {
    std::lock_guard lock(mutex_);
    ++pending_;
    if (logged_once_ && now - last_ < interval_) return 0;
    logged_once_ = true;
    last_ = now;
    const auto count = pending_;
    pending_ = 0;
    return count;
  }

 private:
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  TimePoint last_{};
  bool logged_once_ = false;
  std::uint64_t pending_ = 0;
};

}  // namespace keyflow
