#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "consumers/delivery_queue.hpp"

namespace keyflow {

// The first attempts of a batch of deliveries that are sent before the deliveries are written
// (FirstAttemptFanout). Until the batch is written, each finished attempt stays here, so that
// its delivery is written once, already in its outcome; once it is written, the attempts still
// running are recorded as any other (DeliverySender), against the lease their rows were
// written with.
//
// Thread-safe: completions arrive on the HTTP client's thread, the fan-out waits and writes on
// its own.
class FirstAttempts {
 public:
  // From a completion. True when the batch keeps the attempt; false once the batch is handed
  // over, when the sender records it.
  bool take(FinishedAttempt& attempt);

  // Waits until `expected` attempts have finished, or until deadline.
  void wait(std::size_t expected, std::chrono::steady_clock::time_point deadline);
  bool finished(std::size_t expected);

  // The batch is being written with the attempts returned; those finishing from now on wait
  // for hand_over().
  std::vector<FinishedAttempt> seal();
  // The write failed: the attempts of seal() and those that finished since are taken back.
  void reopen(std::vector<FinishedAttempt> sealed);
  // The batch is written: the attempts that finished after seal(), for the sender to record.
  // Later ones go to the sender directly (take() is false).
  std::vector<FinishedAttempt> hand_over();

 private:
  enum class Stage { collecting, writing, handed_over };

  std::mutex mutex_;
  std::condition_variable changed_;
  Stage stage_ = Stage::collecting;
  std::vector<FinishedAttempt> finished_;
  std::vector<FinishedAttempt> late_;  // finished while the batch was written
  std::size_t awaited_ = 1;            // how many wait() waits for
};

}  // namespace keyflow
