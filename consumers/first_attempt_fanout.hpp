#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_sender.hpp"
#include "consumers/delivery_statistics.hpp"
#include "engine/core/clock.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/store/database.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"

namespace keyflow {

// The deliver role's fan-out: each consumed event becomes one delivery per matching
// subscription (as DeliveryFanout matches them), and the first attempt of each new delivery is
// sent straight away, before anything is written. The delivery is then written once, in one
// statement per batch: in its outcome with its attempt when the attempt has finished, leased
// to the sender while it is still running, or pending (a subscription with a rate limit, one
// whose receiver already holds a batch's worth, a secret that does not open). The caller
// commits the Kafka offsets only after finish() returns, so a crash before that sends the
// events' first attempts again, under the same webhook-ids (delivery_id_for), and a
// delivery already written is never sent again from here.
//
// One delivery row version and one attempt row for a receiver that answers, instead of a
// pending row, its lease and its outcome.
class FirstAttemptFanout {
 public:
  struct Options {
    // How long finish() waits for a batch's first attempts before writing the rest leased.
    std::chrono::milliseconds wait{1000};
    // First attempts sent at once per batch, and waiting per subscription at most; the rest
    // are written pending, for the sender to claim.
    std::size_t max_per_batch = 2000;
    std::size_t max_held_per_subscription = 3000;
    // The lease the deliveries still being sent are written with; the sender's.
    std::chrono::milliseconds lease{60000};
    std::chrono::seconds disable_after{std::chrono::hours(24 * 5)};
  };

  FirstAttemptFanout(ConnectionPool& pool, const Keyring& keyring, DeliverySender& sender,
                     const Clock& clock, Options options);
  ~FirstAttemptFanout();

  struct Batch;
  struct Result {
    std::size_t matched = 0;  // subscriptions matched, summed over the events
    std::size_t written = 0;  // deliveries new in this batch
    std::size_t sent = 0;     // of which first attempts were sent before the write
  };

  // Matches the events and sends the first attempts. Throws what libpqxx throws: nothing was
  // sent then.
  std::shared_ptr<Batch> start(const std::vector<CloudEvent>& events);
  // Whether every first attempt of the batch has finished.
  bool finished(const Batch& batch) const;
  // Waits for the batch's first attempts (Options::wait at most, from its start), then writes
  // its deliveries and the finished attempts, durably. Throws what libpqxx throws: nothing was
  // written, and finish() may be called again.
  Result finish(Batch& batch);

 private:
  ConnectionPool& pool_;
  SecretBox box_;
  DeliverySender& sender_;
  const Clock& clock_;
  Options options_;
  DeliveryStatistics statistics_;
};

}  // namespace keyflow
