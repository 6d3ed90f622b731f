#include "consumers/webhook_test_sender.hpp"

#include <future>

#include "consumers/cloud_event.hpp"
#include "consumers/delivery_outcome.hpp"
#include "consumers/delivery_payload.hpp"
#include "consumers/signed_request.hpp"
#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/time_format.hpp"
#include "engine/store/sql_values.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {
namespace {

// The body of a test delivery: the shape of every delivery, about the subscription itself.
std::string test_body(const std::string& delivery_id, const std::string& event_id,
                      const std::string& subscription_id, TimePoint now) {
  CloudEvent event;
  event.id = event_id;
  event.type = std::string(kTestEventType);
  event.subject = subscription_id;
  event.time = format_timestamp(now);
  event.data = {{"subscription_id", subscription_id},
                {"message", "A test event, sent on request. It changes nothing."}};
  return delivery_body(delivery_id, event);
}

}  // namespace

WebhookTestSender::WebhookTestSender(ConnectionPool& pool, const Keyring& keyring,
                                     WebhookClient& client, const Clock& clock, Options options)
    : pool_(pool),
      box_(keyring),
      queue_(pool, keyring, options.disable_after),
      client_(client),
      clock_(clock),
      options_(std::move(options)) {}

std::string WebhookTestSender::send_test_event(const std::string& subscription_id) {
  const auto now = clock_.now();
  // Past the client's deadline, as the deliverer leases: the attempt ends before the lease.
  const auto lease_until = now + options_.request_timeout + std::chrono::seconds(30);
  const auto id = new_delivery_id(now);
  auto row = pool_.transact([&](pqxx::work& txn) {
    const auto event_id = new_uuid();
    WebhookDeliveryStore::insert(txn,
                                 {{id, subscription_id, event_id, std::string(kTestEventType),
                                   test_body(id, event_id, subscription_id, now)}},
                                 now);
    WebhookDeliveryStore::lease(txn, {id}, lease_until);
    return WebhookDeliveryStore::sending(txn, id, now);
  });
  if (!row) throw Error(errc::not_found, "webhook subscription does not exist");
  auto due = open_due(std::move(*row), box_, lease_until);

  WebhookResponse response;
  auto request = due.error.empty() ? signed_request(due, now, options_.user_agent) : std::nullopt;
  if (!due.error.empty()) {
    response.error = due.error;
  } else if (!request) {
    response.error = "the signing secret is malformed";
  } else {
    std::promise<WebhookResponse> answered;
    auto answer = answered.get_future();
    client_.post(std::move(*request),
                 [&answered](WebhookResponse r) { answered.set_value(std::move(r)); });
    response = answer.get();  // the client answers by its deadline, whatever happens
  }
  const auto recorded_at = clock_.now();
  const auto& schedule = due.claim.retry ? *due.claim.retry : options_.retry;
  const auto outcome =
      decide_outcome(response, due.claim.attempt, recorded_at, schedule, random_jitter());
  const std::vector<DeliveryResult> results{{due.claim, now, response, outcome}};
  queue_.record(results, recorded_at);
  if (options_.metrics) options_.metrics->record(results);
  return id;
}

}  // namespace keyflow
