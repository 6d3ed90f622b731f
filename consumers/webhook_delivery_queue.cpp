#include "consumers/webhook_delivery_queue.hpp"

#include <algorithm>
#include <map>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "engine/store/sql_values.hpp"
#include "engine/webhooks/webhook_delivery_store.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {

std::shared_ptr<const RetrySchedule> retry_schedule_of(const std::vector<int>& seconds) {
  RetrySchedule::Delays delays;
  for (const int s : seconds)
    delays.emplace_back(std::chrono::seconds(s));
  try {
    return std::make_shared<const RetrySchedule>(std::move(delays));
  } catch (const std::invalid_argument&) {
    return nullptr;
  }
}

OpenedSecrets::~OpenedSecrets() {
  sodium_memzero(secret.data(), secret.size());
  sodium_memzero(previous_secret.data(), previous_secret.size());
  sodium_memzero(signing_key.data(), signing_key.size());
}

std::unique_ptr<OpenedSecrets> open_secrets(const SealedSubscription& subscription,
                                            const SecretBox& box) {
  auto opened = std::make_unique<OpenedSecrets>();
  const auto open = [&box](const Bytes& sealed, std::string_view context, std::string& into) {
    auto plain = box.open(sealed, context);
    if (plain) into = std::move(*plain);
    return plain.has_value();
  };
  if (!open(subscription.secret, kWebhookSecretContext, opened->secret)) return nullptr;
  if (subscription.previous_secret &&
      !open(*subscription.previous_secret, kWebhookSecretContext, opened->previous_secret)) {
    return nullptr;
  }
  if (subscription.signing_key &&
      !open(*subscription.signing_key, kWebhookSigningKeyContext, opened->signing_key)) {
    return nullptr;
  }
  return opened;
}

DueDelivery open_due(DueWebhookDelivery row, const SecretBox& box, TimePoint lease_until) {
  DueDelivery d;
  d.claim = {row.id, row.subscription_id, lease_until, row.attempt, nullptr};
  if (row.subscription.retry_schedule) {
    d.claim.retry = retry_schedule_of(*row.subscription.retry_schedule);
  }
  d.url = std::move(row.subscription.url);
  d.body = std::move(row.body);
  d.traceparent = std::move(row.traceparent);
  if (const auto secrets = open_secrets(row.subscription, box)) {
    d.secret = secrets->secret;
    d.previous_secret = secrets->previous_secret;
    d.signing_key = secrets->signing_key;
  } else {
    d.error = "cannot decrypt the subscription's signing secret (wrong master key?)";
  }
  return d;
}

std::vector<DueDelivery> WebhookDeliveryQueue::claim(TimePoint now, TimePoint lease_until,
                                                     std::size_t limit,
                                                     const std::vector<std::string>& saturated,
                                                     const AdmitDelivery& admit) {
  return pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    std::vector<std::string> picked;
    for (const auto& candidate : WebhookDeliveryStore::due_candidates(txn, now, limit, saturated)) {
      // One group per subscription, so that one slow endpoint cannot take every slot.
      if (admit(candidate.subscription_id, candidate.rate_limit)) picked.push_back(candidate.id);
    }
    std::vector<DueDelivery> due;
    for (auto& row : WebhookDeliveryStore::lock_due(txn, picked, now, lease_until))
      due.push_back(open_due(std::move(row), box_, lease_until));
    return due;
  });
}

std::vector<EndpointReport> endpoint_reports(const std::vector<DeliveryResult>& results) {
  std::map<std::string, EndpointReport> by_subscription;
  std::map<std::string, TimePoint> latest;
  for (const auto& r : results) {
    auto& report = by_subscription[r.claim.group];
    report.subscription_id = r.claim.group;
    const bool succeeded = r.outcome.status == "succeeded";
    if (!succeeded && (!report.failed || r.attempted_at < report.first_failure)) {
      report.first_failure = r.attempted_at;
    }
    report.failed = report.failed || !succeeded;
    report.dead = report.dead || r.outcome.status == "dead";
    report.gone = report.gone || r.outcome.endpoint_gone;
    const auto it = latest.find(r.claim.group);
    if (it == latest.end() || r.attempted_at >= it->second) {
      latest[r.claim.group] = r.attempted_at;
      report.succeeded_last = succeeded;
    }
  }
  std::vector<EndpointReport> reports;
  reports.reserve(by_subscription.size());
  for (auto& [id, report] : by_subscription)
    reports.push_back(std::move(report));
  return reports;
}

void WebhookDeliveryQueue::record(const std::vector<DeliveryResult>& results, TimePoint now) {
  const auto attempts = attempts_of(results);
  const auto reports = endpoint_reports(results);
  const auto outcome = pool_.transact([&](pqxx::work& txn) {
    // The commit waits for the disk: a recorded attempt (and a subscription disabled or
    // recovered) survives a crash. One commit covers a whole batch, and sending goes on
    // meanwhile.
    const auto changes = apply_endpoint_health(txn, reports, now, disable_after_);
    return std::pair{WebhookDeliveryStore::record_attempts(txn, attempts, now), changes};
  });
  const auto& [lost, changes] = outcome;
  if (changes.disabled > 0) spdlog::warn("deliver: {} subscriptions disabled", changes.disabled);
  if (changes.recovered > 0) {
    spdlog::info("deliver: {} subscriptions answer again", changes.recovered);
  }
  for (const auto& id : lost) {
    spdlog::warn("deliver: lease on {} ran out before its attempt was recorded", id);
  }
}

void WebhookDeliveryQueue::release(const std::vector<std::pair<std::string, TimePoint>>& leases) {
  pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    for (const auto& [id, lease_until] : leases)
      WebhookDeliveryStore::release(txn, id, lease_until);
  });
}

}  // namespace keyflow
