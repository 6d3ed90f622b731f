#include "consumers/first_attempts.hpp"

#include <iterator>
#include <utility>

namespace keyflow {

bool FirstAttempts::take(FinishedAttempt& attempt) {
  {
    std::lock_guard lock(mutex_);
    switch (stage_) {
      case Stage::collecting:
        finished_.push_back(std::move(attempt));
        // Only the last one the fan-out waits for wakes it.
        if (finished_.size() < awaited_) return true;
        break;
      case Stage::writing:
        late_.push_back(std::move(attempt));
        return true;
      case Stage::handed_over:
        return false;
    }
  }
  changed_.notify_all();
  return true;
}

void FirstAttempts::wait(std::size_t expected, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  awaited_ = expected;
  changed_.wait_until(lock, deadline, [&] { return finished_.size() >= expected; });
}

bool FirstAttempts::finished(std::size_t expected) {
  std::lock_guard lock(mutex_);
  return finished_.size() >= expected;
}

std::vector<FinishedAttempt> FirstAttempts::seal() {
  std::lock_guard lock(mutex_);
  stage_ = Stage::writing;
  return std::exchange(finished_, {});
}

void FirstAttempts::reopen(std::vector<FinishedAttempt> sealed) {
  std::lock_guard lock(mutex_);
  sealed.insert(sealed.end(), std::make_move_iterator(late_.begin()),
                std::make_move_iterator(late_.end()));
  late_.clear();
  finished_ = std::move(sealed);
  stage_ = Stage::collecting;
}

std::vector<FinishedAttempt> FirstAttempts::hand_over() {
  std::lock_guard lock(mutex_);
  stage_ = Stage::handed_over;
  return std::exchange(late_, {});
}

}  // namespace keyflow
