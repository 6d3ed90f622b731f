#pragma once

#include <exception>

namespace keyflow {

// Thrown where work would block (a database round trip) on a thread that must not: an I/O
// thread trying to answer from memory. Whoever opened the NonBlockingScope hands the work to
// a thread that may block, which runs it again from the start; so work that may be tried
// this way does nothing that must not happen twice before its first database call.
struct WouldBlock : std::exception {
  const char* what() const noexcept override { return "would block"; }
};

// Marks the current thread as one that must not block, for the scope's lifetime.
class NonBlockingScope {
 public:
  NonBlockingScope() : previous_(active_) { active_ = true; }
  ~NonBlockingScope() { active_ = previous_; }
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;

  // Throws WouldBlock inside a scope; what may block calls this first.
  static void check() {
    if (active_) throw WouldBlock();
  }

 private:
  static inline thread_local bool active_ = false;
  bool previous_;
};

}  // namespace keyflow
