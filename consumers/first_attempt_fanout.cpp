#include "consumers/first_attempt_fanout.hpp"

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "consumers/delivery_fanout.hpp"
#include "consumers/delivery_payload.hpp"
#include "consumers/first_attempts.hpp"
#include "consumers/webhook_delivery_queue.hpp"
#include "engine/webhooks/endpoint_health.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {
namespace {

// A subscription's secrets and retry schedule, opened once per batch for all its deliveries.
struct OpenedTarget {
  std::unique_ptr<OpenedSecrets> secrets;
  std::shared_ptr<const RetrySchedule> retry;  // null: the sender's
};

using Audience = std::tuple<std::string, std::optional<std::string>, std::optional<std::string>>;

}  // namespace

struct FirstAttemptFanout::Batch {
  std::chrono::steady_clock::time_point started;
  TimePoint lease_until;
  std::vector<FannedOutDelivery> rows;  // every new delivery of the batch
  // The rows whose first attempt was sent, by delivery id.
  std::unordered_map<std::string, std::size_t> sent;
  std::shared_ptr<FirstAttempts> first = std::make_shared<FirstAttempts>();
  std::size_t matched = 0;
};

FirstAttemptFanout::FirstAttemptFanout(ConnectionPool& pool, const Keyring& keyring,
                                       DeliverySender& sender, const Clock& clock, Options options)
    : pool_(pool),
      box_(keyring),
      sender_(sender),
      clock_(clock),
      options_(options),
      statistics_(pool, clock) {}

FirstAttemptFanout::~FirstAttemptFanout() = default;

std::shared_ptr<FirstAttemptFanout::Batch> FirstAttemptFanout::start(
    const std::vector<CloudEvent>& events) {
  const auto now = clock_.now();
  auto batch = std::make_shared<Batch>();
  batch->started = std::chrono::steady_clock::now();
  batch->lease_until = now + options_.lease;

  // Every (subscription, event) pair, and those already written by an earlier consumption.
  std::map<Audience, std::vector<SubscriptionTarget>> matches;
  struct Pair {
    const SubscriptionTarget* target;
    const CloudEvent* event;
    std::string id;
  };
  std::vector<Pair> pairs;
  std::unordered_set<std::string> existing;
  pool_.transact([&](pqxx::work& txn) {
    matches.clear();
    pairs.clear();
    for (const auto& event : events) {
      Audience audience{event.type, scope_id(event.data, "organization_id"),
                        scope_id(event.data, "project_id")};
      auto it = matches.find(audience);
      if (it == matches.end()) {
        auto targets = WebhookDeliveryStore::matching_targets(
            txn, event.type, std::get<1>(audience), std::get<2>(audience), now);
        it = matches.emplace(std::move(audience), std::move(targets)).first;
      }
      const auto at = event_time(event);
      for (const auto& target : it->second)
        pairs.push_back({&target, &event, delivery_id_for(target.id, event.id, at)});
    }
    std::vector<std::string> ids;
    ids.reserve(pairs.size());
    for (const auto& pair : pairs)
      ids.push_back(pair.id);
    const auto found = WebhookDeliveryStore::existing(txn, ids);
    existing = {found.begin(), found.end()};
  });
  batch->matched = pairs.size();

  // Which go now: not rate limited (the sender spends the tokens), secrets that open, and
  // room in the batch and behind the subscription's receiver.
  std::unordered_map<std::string, OpenedTarget> opened;
  std::unordered_map<std::string, std::size_t> held;
  std::vector<DueDelivery> sending;
  // Each event's data, serialized once for all its subscriptions.
  std::unordered_map<const CloudEvent*, std::string> data_of;
  for (auto& pair : pairs) {
    // Written already, or twice in the batch (a relay that crashed published it again).
    if (!existing.insert(pair.id).second) continue;
    const auto& target = *pair.target;
    const auto& event = *pair.event;
    auto [data, fresh_data] = data_of.try_emplace(&event);
    if (fresh_data) data->second = delivery_data(event);
    FannedOutDelivery row{
        .delivery = {pair.id, target.id, event.id, event.type,
                     delivery_body(pair.id, event, data->second), event.traceparent},
        .attempt = std::nullopt,
        .lease_until = std::nullopt};
    bool send_now = !target.rate_limit && sending.size() < options_.max_per_batch;
    if (send_now) {
      auto [h, fresh] = held.try_emplace(target.id, 0);
      if (fresh) h->second = sender_.held(target.id);
      send_now = h->second < options_.max_held_per_subscription;
      if (send_now) ++h->second;
    }
    const OpenedTarget* opened_target = nullptr;
    if (send_now) {
      auto [o, fresh] = opened.try_emplace(target.id);
      if (fresh) {
        o->second.secrets = open_secrets(target.sending, box_);
        if (target.sending.retry_schedule) {
          o->second.retry = retry_schedule_of(*target.sending.retry_schedule);
        }
      }
      opened_target = &o->second;
      // Else pending: the sender's claim records why it cannot be signed.
      send_now = opened_target->secrets != nullptr;
    }
    if (send_now) {
      const auto& secrets = *opened_target->secrets;
      DueDelivery d;
      d.claim = {pair.id, target.id, batch->lease_until, 1, opened_target->retry};
      d.url = target.sending.url;
      d.body = row.delivery.body;
      d.secret = secrets.secret;
      d.previous_secret = secrets.previous_secret;
      d.signing_key = secrets.signing_key;
      d.traceparent = event.traceparent;
      d.first = batch->first;
      sending.push_back(std::move(d));
      batch->sent.emplace(pair.id, batch->rows.size());
    }
    batch->rows.push_back(std::move(row));
  }
  sender_.send_first(std::move(sending));
  return batch;
}

bool FirstAttemptFanout::finished(const Batch& batch) const {
  return batch.first->finished(batch.sent.size());
}

FirstAttemptFanout::Result FirstAttemptFanout::finish(Batch& batch) {
  batch.first->wait(batch.sent.size(), batch.started + options_.wait);
  auto sealed = batch.first->seal();
  const auto now = clock_.now();
  std::vector<DeliveryResult> results;
  results.reserve(sealed.size());
  for (const auto& attempt : sealed)
    results.push_back(sender_.decide(attempt, now));
  // What was sent is leased unless its attempt has finished (set afresh: finish() may run
  // again after a failed write, with more attempts finished).
  for (const auto& [id, index] : batch.sent) {
    batch.rows[index].attempt.reset();
    batch.rows[index].lease_until = batch.lease_until;
  }
  auto attempts = attempts_of(results);
  for (auto& attempt : attempts) {
    auto& row = batch.rows[batch.sent.at(attempt.delivery_id)];
    row.lease_until.reset();
    row.attempt = std::move(attempt);
  }

  std::vector<std::string> written;
  EndpointHealthChanges changes;
  try {
    std::tie(written, changes) = pool_.transact([&](pqxx::work& txn) {
      // The commit waits for the disk: the attempts are recorded, and the Kafka offsets move
      // on only after this.
      auto ids = WebhookDeliveryStore::insert_fanned_out(txn, batch.rows, now);
      auto health =
          apply_endpoint_health(txn, endpoint_reports(results), now, options_.disable_after);
      return std::pair{std::move(ids), health};
    });
  } catch (...) {
    batch.first->reopen(std::move(sealed));
    throw;
  }

  // The attempts still running are the sender's to record now, against the leases written.
  const std::unordered_set<std::string> new_ids(written.begin(), written.end());
  std::vector<std::pair<std::string, TimePoint>> leases;
  bool pending = false;
  for (const auto& row : batch.rows) {
    if (!new_ids.contains(row.delivery.id)) continue;
    if (row.lease_until) {
      leases.emplace_back(row.delivery.id, *row.lease_until);
    } else if (!row.attempt) {
      pending = true;
    }
  }
  // Attempts of deliveries this write found written already (a commit that failed on its way
  // back, an event another deliverer wrote meanwhile) are recorded like late ones: against the
  // lease, if the row holds it.
  auto late = batch.first->hand_over();
  for (auto& attempt : sealed) {
    if (!new_ids.contains(attempt.claim.delivery_id)) late.push_back(std::move(attempt));
  }
  sender_.adopt(std::move(late), std::move(leases));
  std::erase_if(results,
                [&](const DeliveryResult& r) { return !new_ids.contains(r.claim.delivery_id); });
  sender_.recorded(results);
  if (pending) sender_.wake();

  if (changes.disabled > 0) spdlog::warn("deliver: {} subscriptions disabled", changes.disabled);
  if (changes.recovered > 0) {
    spdlog::info("deliver: {} subscriptions answer again", changes.recovered);
  }
  statistics_.written(written.size());
  return {batch.matched, written.size(), batch.sent.size()};
}

}  // namespace keyflow
