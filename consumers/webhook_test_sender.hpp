#pragma once

#include <chrono>
#include <string>

#include "consumers/delivery_metrics.hpp"
#include "consumers/retry_schedule.hpp"
#include "consumers/webhook_client.hpp"
#include "consumers/webhook_delivery_queue.hpp"
#include "engine/core/clock.hpp"
#include "engine/webhooks/delivery_log.hpp"

namespace keyflow {

// POST /v1/webhooks/subscriptions/{id}/test, sent from the serve process: a webhook.test
// delivery inserted already leased (so that no deliverer sends it meanwhile), signed and
// POSTed at once through `client`, and its attempt recorded as the deliverer records one,
// endpoint health included. A failed attempt leaves the delivery pending on the retry
// schedule, for the deliverer; a serve process dying mid-attempt leaves it to the lease.
class WebhookTestSender final : public TestEventSender {
 public:
  struct Options {
    RetrySchedule retry;  // the deployment's, for a subscription without its own
    std::chrono::milliseconds request_timeout{30000};
    std::chrono::seconds disable_after = WebhookDeliveryQueue::kDefaultDisableAfter;
    std::string user_agent = "keyflow-webhooks/0.1";
    DeliveryMetrics* metrics = nullptr;  // counts the attempt, when set
  };

  WebhookTestSender(ConnectionPool& pool, const Keyring& keyring, WebhookClient& client,
                    const Clock& clock, Options options);

  // Blocks the calling thread (never the client's executor) for the attempt.
  std::string send_test_event(const std::string& subscription_id) override;

 private:
  ConnectionPool& pool_;
  SecretBox box_;
  WebhookDeliveryQueue queue_;  // records the attempt as the deliverer does
  WebhookClient& client_;
  const Clock& clock_;
  Options options_;
};

}  // namespace keyflow
