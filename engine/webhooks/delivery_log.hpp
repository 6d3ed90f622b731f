#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// One webhook delivery: an event on its way to one subscription.
struct WebhookDelivery {
  std::string id;  // the webhook-id
  std::string subscription_id;
  std::string event_id;
  std::string event_type;
  std::string status;  // pending, succeeded, dead
  int attempt_count = 0;
  TimePoint next_attempt_at;
  std::optional<int> last_status_code;
  std::optional<std::string> last_error;
  TimePoint created_at;
  TimePoint updated_at;
};

struct WebhookAttempt {
  TimePoint attempted_at;
  int duration_ms = 0;
  std::optional<int> status_code;  // none when no response arrived
  std::optional<std::string> error;
  std::optional<std::string> response_body;  // its first 20 000 bytes
};

struct DeliveryDetail {
  WebhookDelivery delivery;
  std::string body;                      // the exact body POSTed on every attempt
  std::vector<WebhookAttempt> attempts;  // oldest first
};

struct DeliveryListRequest {
  std::optional<std::string> subscription_id;
  std::optional<std::string> status;  // pending, succeeded, dead
  std::optional<std::string> event_type;
  int limit = 100;                    // 1..1000
  std::optional<std::string> cursor;  // from a previous page
};

struct DeliveryPage {
  std::vector<WebhookDelivery> deliveries;  // newest first
  std::optional<std::string> next_cursor;
};

boost::json::object to_json(const WebhookDelivery& delivery);
boost::json::object to_json(const DeliveryDetail& detail);

// Sends a subscription a webhook.test delivery at once and records its attempt as the
// deliverer records any (a failed one is retried on the subscription's schedule); returns the
// delivery's id once the attempt is recorded. Implemented where the HTTP client lives
// (consumers/webhook_test_sender.hpp).
class TestEventSender {
 public:
  virtual ~TestEventSender() = default;
  virtual std::string send_test_event(const std::string& subscription_id) = 0;
};

// The webhook delivery log and its replays, tenant-scoped through the deliveries'
// subscriptions: a caller sees and replays only what its subscriptions received.
class DeliveryLog {
 public:
  // How far back a recovery may reach.
  static constexpr auto kMaxRecovery = std::chrono::hours(24 * 14);

  DeliveryLog(ConnectionPool& db, const Clock& clock) : db_(db), clock_(clock) {}

  DeliveryPage list(const Actor& actor, const DeliveryListRequest& request);
  DeliveryDetail get(const Actor& actor, const std::string& id);
  // Due again now, whatever its state: one more attempt (MANAGE).
  void retry(const Actor& actor, const std::string& id);
  // Every dead delivery of the subscription created since `since` (at most 14 days back) is
  // due again now; returns how many.
  std::size_t recover(const Actor& actor, const std::string& subscription_id, TimePoint since);
  // A webhook.test delivery sent now through `sender` (MANAGE; whatever the subscription's
  // status), with its attempt.
  DeliveryDetail send_test(const Actor& actor, const std::string& subscription_id,
                           TestEventSender& sender);

 private:
  ConnectionPool& db_;
  const Clock& clock_;
};

}  // namespace keyflow
