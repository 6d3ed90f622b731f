#include "engine/core/interruptible_wait.hpp"

#include <condition_variable>
#include <mutex>

namespace keyflow {

bool sleep_unless_stopped(const std::stop_token& stop, std::chrono::milliseconds duration) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  // Nothing notifies cv: only the stop request or the timeout end the wait.
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace keyflow
