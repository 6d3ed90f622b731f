#pragma once

#include <chrono>
#include <stop_token>

namespace keyflow {

// Sleeps for duration unless stop is requested first, which wakes it at once (no polling).
// True when the whole duration passed, false when stopped.
bool sleep_unless_stopped(const std::stop_token& stop, std::chrono::milliseconds duration);

}  // namespace keyflow
