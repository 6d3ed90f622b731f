#include "engine/webhooks/delivery_log.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "engine/core/errc.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/keys/key_cursor.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/webhooks/subscription_service.hpp"
#include "engine/webhooks/subscription_store.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {
namespace {

constexpr int kRecoveryBatch = 500;

void require_delivery_id(const std::string& id) {
  if (!is_delivery_id(id)) {
    throw Error(errc::invalid_argument, "id must be a delivery id (msg_ and 27 letters or digits)",
                "id");
  }
}

WebhookSubscription subscription_of(pqxx::work& txn, const std::string& subscription_id) {
  auto s = SubscriptionStore::find(txn, subscription_id, false);
  if (!s) throw Error(errc::not_found, "webhook subscription does not exist");
  return std::move(*s);
}

// The delivery, once the caller may act on it with `permission`; not found otherwise.
std::pair<WebhookDelivery, std::string> reachable_delivery(pqxx::work& txn, const Actor& actor,
                                                           Permission permission,
                                                           const std::string& id) {
  require_delivery_id(id);
  auto found = WebhookDeliveryStore::find(txn, id);
  if (!found) throw Error(errc::not_found, "webhook delivery does not exist");
  try {
    require_subscription_access(actor, permission,
                                subscription_of(txn, found->first.subscription_id));
  } catch (const Error& e) {
    if (e.kind() == errc::not_found)
      throw Error(errc::not_found, "webhook delivery does not exist");
    throw;
  }
  return std::move(*found);
}

}  // namespace

boost::json::object to_json(const WebhookDelivery& d) {
  return {{"id", d.id},
          {"subscription_id", d.subscription_id},
          {"event_id", d.event_id},
          {"event_type", d.event_type},
          {"status", d.status},
          {"attempt_count", d.attempt_count},
          {"next_attempt_at", d.status == "pending"
                                  ? boost::json::value(format_timestamp(d.next_attempt_at))
                                  : boost::json::value(nullptr)},
          {"last_status_code", json_or_null(d.last_status_code)},
          {"last_error", keyflow::json_or_null(d.last_error)},
          {"created_at", format_timestamp(d.created_at)},
          {"updated_at", format_timestamp(d.updated_at)}};
}

boost::json::object to_json(const DeliveryDetail& detail) {
  auto out = to_json(detail.delivery);
  boost::system::error_code ec;
  auto payload = boost::json::parse(detail.body, ec);
  out["payload"] = ec ? boost::json::value(detail.body) : std::move(payload);
  boost::json::array attempts;
  for (const auto& a : detail.attempts) {
    attempts.push_back({{"attempted_at", format_timestamp(a.attempted_at)},
                        {"duration_ms", a.duration_ms},
                        {"status_code", json_or_null(a.status_code)},
                        {"error", keyflow::json_or_null(a.error)},
                        {"response_body", keyflow::json_or_null(a.response_body)}});
  }
  out["attempts"] = std::move(attempts);
  return out;
}

DeliveryPage DeliveryLog::list(const Actor& actor, const DeliveryListRequest& request) {
  if (request.limit < 1 || request.limit > 1000) {
    throw Error(errc::invalid_argument, "limit must be between 1 and 1000", "limit");
  }
  if (request.status && *request.status != "pending" && *request.status != "succeeded" &&
      *request.status != "dead") {
    throw Error(errc::invalid_argument, "status must be pending, succeeded or dead", "status");
  }
  if (request.event_type && *request.event_type != kTestEventType) {
    require_event_types({*request.event_type});
  }
  if (request.subscription_id) require_id(*request.subscription_id, "subscription_id");
  WebhookDeliveryStore::LogQuery query;
  query.subscription_id = request.subscription_id;
  query.status = request.status;
  query.event_type = request.event_type;
  query.limit = request.limit + 1;  // one more tells whether another page follows
  if (request.cursor) {
    auto cursor = decode_key_cursor(*request.cursor, is_delivery_id);
    query.before = std::pair{cursor.created_at, std::move(cursor.id)};
  }
  auto deliveries = db_.transact([&](pqxx::work& txn) {
    if (request.subscription_id) {
      require_subscription_access(actor, Permission::read,
                                  subscription_of(txn, *request.subscription_id));
    } else if (actor.kind == Actor::Kind::key) {
      // A key sees its own tenant's; the admin, every tenant's.
      require_access(actor, Permission::read, {actor.organization_id, actor.project_id});
      query.organization_id = actor.organization_id;
      query.project_id = actor.project_id;
    }
    return WebhookDeliveryStore::list(txn, query);
  });
  DeliveryPage page;
  page.next_cursor = next_page_cursor(deliveries, request.limit);
  page.deliveries = std::move(deliveries);
  return page;
}

DeliveryDetail DeliveryLog::get(const Actor& actor, const std::string& id) {
  return db_.transact([&](pqxx::work& txn) {
    auto [delivery, body] = reachable_delivery(txn, actor, Permission::read, id);
    auto attempts = WebhookDeliveryStore::attempts(txn, id);
    return DeliveryDetail{std::move(delivery), std::move(body), std::move(attempts)};
  });
}

void DeliveryLog::retry(const Actor& actor, const std::string& id) {
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    reachable_delivery(txn, actor, Permission::manage, id);
    WebhookDeliveryStore::requeue(txn, id, now);
  });
}

std::size_t DeliveryLog::recover(const Actor& actor, const std::string& subscription_id,
                                 TimePoint since) {
  require_id(subscription_id, "id");
  const auto now = clock_.now();
  if (since < now - kMaxRecovery || since > now) {
    throw Error(errc::invalid_argument, "since must lie within the last 14 days", "since");
  }
  db_.transact([&](pqxx::work& txn) {
    require_subscription_access(actor, Permission::manage, subscription_of(txn, subscription_id));
  });
  // Batches in transactions of their own: a large recovery never holds many rows at once.
  std::size_t total = 0;
  for (;;) {
    const auto n = db_.transact([&](pqxx::work& txn) {
      return WebhookDeliveryStore::requeue_dead(txn, subscription_id, since, now, kRecoveryBatch);
    });
    total += n;
    if (n < static_cast<std::size_t>(kRecoveryBatch)) break;
  }
  return total;
}

DeliveryDetail DeliveryLog::send_test(const Actor& actor, const std::string& subscription_id,
                                      TestEventSender& sender) {
  require_id(subscription_id, "id");
  db_.transact([&](pqxx::work& txn) {
    require_subscription_access(actor, Permission::manage, subscription_of(txn, subscription_id));
  });
  return get(actor, sender.send_test_event(subscription_id));
}

}  // namespace keyflow
