#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "consumers/delivery_metrics.hpp"
#include "consumers/delivery_queue.hpp"
#include "consumers/retry_schedule.hpp"
#include "consumers/webhook_client.hpp"
#include "engine/core/clock.hpp"
#include "engine/core/token_bucket.hpp"

namespace keyflow {

struct SenderOptions {
  RetrySchedule retry;
  // The client's deadline per attempt; the lease must outlast it.
  std::chrono::milliseconds request_timeout{30000};
  // How long a claimed delivery stays hidden from other senders. Zero: request_timeout + 30 s.
  std::chrono::milliseconds lease{0};
  std::size_t max_in_flight = 128;
  // So that one slow receiver (a subscription, a rotation webhook URL) cannot take every slot,
  // while one fast receiver still gets deliveries in parallel.
  std::size_t max_in_flight_per_subscription = 32;
  // How often the database is asked for due deliveries when nothing wakes the sender sooner.
  std::chrono::milliseconds poll_interval{200};
  // Once an attempt has finished, how long to wait for half of those in flight to finish too,
  // so that they are recorded and replaced together.
  std::chrono::milliseconds gather{5};
  // On stop, how long to wait for attempts in flight before handing their leases back.
  std::chrono::milliseconds shutdown_grace{2000};
  std::string user_agent = "keyflow-webhooks/0.1";
  // The retry jitter in [0, 1); libsodium's random numbers when empty.
  std::function<double()> jitter;
  // Counts each recorded attempt, when set.
  DeliveryMetrics* metrics = nullptr;
};

// Sends due deliveries of a DeliveryQueue and records every attempt. A delivery is claimed by
// leasing it (FOR UPDATE SKIP LOCKED, so senders in several processes never share one), sent
// with Standard Webhooks headers, and then recorded in one transaction: the attempt and the
// delivery's new state, succeeded on 2xx, else pending at the retry schedule's next time or
// dead after the last attempt. A sender that dies leaves its leases to run out, after which
// the deliveries are due again: at least once, with the same webhook-id.
//
// Sending never waits for the database: each group's claims run up to one cap ahead of what
// is in flight, and an attempt that finishes starts the group's next claimed delivery at once,
// on the client's executor, while the thread that calls run() records finished attempts and
// claims more in batches. A group with a rate limit is claimed no further ahead than its cap,
// so that its tokens are spent when it sends.
//
// All database work runs on the thread that calls run() (or dispatch_due/record_finished);
// HTTP runs on the client's executor.
class DeliverySender {
 public:
  DeliverySender(DeliveryQueue& queue, WebhookClient& client, const Clock& clock,
                 SenderOptions options);
  ~DeliverySender();
  DeliverySender(const DeliverySender&) = delete;
  DeliverySender& operator=(const DeliverySender&) = delete;

  // Claims, sends and records until stop is requested, then waits up to shutdown_grace for the
  // attempts in flight and hands back the leases of those that have not finished.
  void run(std::stop_token stop);

  // Makes run() look for due deliveries now (the fan-out just created some). Any thread.
  void wake();

  // One step of run(), for tests: claims what is due and fits under the concurrency caps and
  // starts sending what fits in flight. Returns how many were claimed.
  std::size_t dispatch_due();
  // Records the attempts that have finished. Returns how many. Throws on database errors; the
  // attempts are kept for the next call then.
  std::size_t record_finished();

  // First attempts of deliveries not written yet (FirstAttemptFanout): each carries its
  // FirstAttempts and a lease its row will be written with. They wait their turn under the
  // same caps as claimed ones. Any thread.
  void send_first(std::vector<DueDelivery> deliveries);
  // The fan-out wrote their deliveries: these attempts, finished meanwhile, are recorded here,
  // and these leases handed back at shutdown as the sender's own. Any thread.
  void adopt(std::vector<FinishedAttempt> late,
             std::vector<std::pair<std::string, TimePoint>> leases);
  // How many deliveries of the group are in flight or waiting for a slot. Any thread.
  std::size_t held(const std::string& group) const;
  // An attempt's outcome by the retry schedule (the claim's own, else the sender's).
  DeliveryResult decide(const FinishedAttempt& attempt, TimePoint now) const;
  // Counts and logs attempts that are recorded.
  void recorded(const std::vector<DeliveryResult>& results) const;

 private:
  struct State;

  void wait(std::stop_token& stop, std::chrono::milliseconds timeout);
  void drain();
  double jitter() const;

  DeliveryQueue& queue_;
  const Clock& clock_;
  SenderOptions options_;
  RetrySchedule schedule_;
  // Shared with the client's completion handlers, which may outlive the sender.
  std::shared_ptr<State> state_;
  // Owned by the sending thread.
  std::unordered_map<std::string, TimePoint> leases_;  // delivery id -> lease_until
  // Groups with a rate limit that sent within the last second. Per sender: with several
  // deliver processes, each may send up to the limit.
  std::unordered_map<std::string, TokenBucket> rate_limits_;
};

}  // namespace keyflow
