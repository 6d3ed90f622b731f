#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace keyflow::test {

// Polls condition every `every` until it holds or timeout passes; its last answer.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(every);
  }
  return condition();
}

}  // namespace keyflow::test
