#include "consumers/delivery_sender.hpp"

#include <algorithm>
#include <optional>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "consumers/delivery_outcome.hpp"
#include "consumers/webhook_signature.hpp"
#include "engine/sql_values.hpp"
#include "engine/time_format.hpp"

namespace keyflow {
namespace {

std::chrono::milliseconds lease_length(const SenderOptions& o) {
  return o.lease.count() > 0 ? o.lease : o.request_timeout + std::chrono::seconds(30);
}

}  // namespace

DeliverySender::DeliverySender(ConnectionPool& pool, WebhookClient& client,
                               const MasterKey& master_key, const Clock& clock,
                               SenderOptions options)
    : pool_(pool),
      client_(client),
      box_(master_key),
      clock_(clock),
      options_(std::move(options)),
      schedule_(options_.retry) {}

double DeliverySender::jitter() const {
  if (options_.jitter) return options_.jitter();
  constexpr std::uint32_t kSteps = 1u << 30;
  return static_cast<double>(randombytes_uniform(kSteps)) / kSteps;
}

void DeliverySender::wake() {
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->woken = true;
  }
  mailbox_->changed.notify_all();
}

std::vector<DeliverySender::Due> DeliverySender::claim_due(TimePoint now) {
  const auto now_text = format_timestamp(now);
  const auto lease_until = format_timestamp(now + lease_length(options_));
  std::vector<std::string> saturated;
  for (const auto& [subscription, count] : in_flight_by_subscription_) {
    if (count >= options_.max_in_flight_per_subscription) saturated.push_back(subscription);
  }
  const auto limit = options_.max_in_flight - in_flight_total_;

  return pool_.transact([&](pqxx::work& txn) {
    // Rows locked here and not leased below are simply left for the next round; the row locks
    // keep other senders off them until this transaction ends.
    const auto rows = txn.exec_params(
        "SELECT d.id, d.subscription_id, d.attempts, d.body, s.url, s.secret_sealed"
        "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz"
        "   AND (d.locked_until IS NULL OR d.locked_until < $1::timestamptz)"
        "   AND s.status = 'enabled'"
        "   AND NOT (d.subscription_id::text = ANY ($2::text[]))"
        " ORDER BY d.next_attempt_at"
        " LIMIT $3"
        " FOR UPDATE OF d SKIP LOCKED",
        now_text, text_array_literal(saturated), limit);
    std::vector<Due> due;
    std::unordered_map<std::string, std::size_t> taken;
    std::vector<std::string> ids;
    for (const auto& row : rows) {
      const std::string subscription = row["subscription_id"].c_str();
      auto& count = taken[subscription];
      const auto busy = in_flight_by_subscription_.contains(subscription)
                            ? in_flight_by_subscription_.at(subscription)
                            : 0;
      if (busy + count >= options_.max_in_flight_per_subscription) continue;
      ++count;
      Due d;
      d.claim.delivery_id = row["id"].c_str();
      d.claim.subscription_id = subscription;
      d.claim.lease_until = lease_until;
      d.claim.attempt = row["attempts"].as<int>() + 1;
      d.body = row["body"].c_str();
      d.url = row["url"].c_str();
      const pqxx::binarystring sealed(row["secret_sealed"]);
      d.secret_sealed.assign(sealed.data(), sealed.data() + sealed.size());
      ids.push_back(d.claim.delivery_id);
      due.push_back(std::move(d));
    }
    if (!ids.empty()) {
      txn.exec_params(
          "UPDATE webhook_deliveries SET locked_until = $1::timestamptz"
          " WHERE id = ANY ($2::text[])",
          lease_until, text_array_literal(ids));
    }
    return due;
  });
}

std::size_t DeliverySender::dispatch_due() {
  if (in_flight_total_ >= options_.max_in_flight) return 0;
  const auto now = clock_.now();
  auto due = claim_due(now);
  for (auto& d : due)
    start(std::move(d), now);
  return due.size();
}

void DeliverySender::finish_without_sending(Claim claim, TimePoint now, std::string error) {
  WebhookResponse response;
  response.error = std::move(error);
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->finished.push_back({std::move(claim), now, std::move(response)});
  }
  mailbox_->changed.notify_all();
}

void DeliverySender::start(Due due, TimePoint now) {
  ++in_flight_by_subscription_[due.claim.subscription_id];
  ++in_flight_total_;
  leases_[due.claim.delivery_id] = due.claim.lease_until;

  auto secret = box_.open(due.secret_sealed, kWebhookSecretContext);
  if (!secret) {
    finish_without_sending(std::move(due.claim), now,
                           "cannot decrypt the subscription's signing secret (wrong master key?)");
    return;
  }
  const auto timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string signature;
  try {
    signature = sign(*secret, due.claim.delivery_id, timestamp, due.body);
  } catch (const std::invalid_argument&) {
    signature.clear();
  }
  sodium_memzero(secret->data(), secret->size());
  if (signature.empty()) {
    finish_without_sending(std::move(due.claim), now,
                           "the subscription's signing secret is malformed");
    return;
  }

  WebhookRequest request;
  request.url = std::move(due.url);
  request.headers = {
      {"webhook-id", due.claim.delivery_id},       {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-signature", std::move(signature)}, {"content-type", "application/json"},
      {"user-agent", options_.user_agent},
  };
  request.body = std::move(due.body);
  client_.post(std::move(request),
               [mailbox = mailbox_, claim = std::move(due.claim), now](WebhookResponse response) {
                 {
                   std::lock_guard lock(mailbox->mutex);
                   mailbox->finished.push_back({claim, now, std::move(response)});
                 }
                 mailbox->changed.notify_all();
               });
}

std::size_t DeliverySender::record_finished() {
  std::vector<Finished> batch;
  {
    std::lock_guard lock(mailbox_->mutex);
    batch.swap(mailbox_->finished);
  }
  if (batch.empty()) return 0;
  const auto now = clock_.now();
  const auto now_text = format_timestamp(now);
  std::vector<DeliveryOutcome> outcomes;
  try {
    pool_.transact([&](pqxx::work& txn) {
      outcomes.clear();
      for (const auto& f : batch) {
        const auto& r = f.response;
        const auto outcome =
            decide_outcome(r.succeeded(), f.claim.attempt, now, schedule_, jitter());
        outcomes.push_back(outcome);
        const std::optional<int> status_code =
            r.status_code != 0 ? std::optional<int>(r.status_code) : std::nullopt;
        const std::optional<std::string> error =
            r.error.empty() ? std::nullopt : std::optional<std::string>(r.error);
        txn.exec_params(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, "
            "error)"
            " VALUES ($1, $2, $3, $4, $5)",
            f.claim.delivery_id, format_timestamp(f.attempted_at), status_code,
            static_cast<int>(r.latency.count()), error);
        // Only while the lease is still ours: a sender that took over after it ran out owns the
        // delivery's state now.
        const auto updated = txn.exec_params(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2,"
            " next_attempt_at = $3, locked_until = NULL, last_status_code = $4,"
            " last_error = $5, updated_at = $6"
            " WHERE id = $1 AND locked_until = $7::timestamptz",
            f.claim.delivery_id, std::string(outcome.status),
            format_timestamp(outcome.next_attempt_at), status_code, error, now_text,
            f.claim.lease_until);
        if (updated.affected_rows() == 0) {
          spdlog::warn("deliver: lease on {} ran out before its attempt was recorded",
                       f.claim.delivery_id);
        }
      }
    });
  } catch (...) {
    // Keep them for the next round, ahead of what arrived meanwhile.
    std::lock_guard lock(mailbox_->mutex);
    batch.insert(batch.end(), std::make_move_iterator(mailbox_->finished.begin()),
                 std::make_move_iterator(mailbox_->finished.end()));
    mailbox_->finished = std::move(batch);
    throw;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& f = batch[i];
    auto it = in_flight_by_subscription_.find(f.claim.subscription_id);
    if (it != in_flight_by_subscription_.end() && --it->second == 0) {
      in_flight_by_subscription_.erase(it);
    }
    --in_flight_total_;
    leases_.erase(f.claim.delivery_id);
    const auto& r = f.response;
    if (outcomes[i].status == "dead") {
      spdlog::warn("deliver: {} is dead after {} attempts (last: {})", f.claim.delivery_id,
                   f.claim.attempt,
                   r.error.empty() ? "HTTP " + std::to_string(r.status_code) : r.error);
    } else {
      spdlog::debug("deliver: {} attempt {}: {} in {} ms -> {}", f.claim.delivery_id,
                    f.claim.attempt,
                    r.error.empty() ? "HTTP " + std::to_string(r.status_code) : r.error,
                    r.latency.count(), outcomes[i].status);
    }
  }
  return batch.size();
}

void DeliverySender::wait(std::stop_token& stop, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mailbox_->mutex);
  mailbox_->changed.wait_for(lock, stop, timeout,
                             [&] { return mailbox_->woken || !mailbox_->finished.empty(); });
  mailbox_->woken = false;
}

void DeliverySender::run(std::stop_token stop) {
  int failures = 0;
  while (!stop.stop_requested()) {
    auto pause = options_.poll_interval;
    try {
      record_finished();
      const auto started = dispatch_due();
      failures = 0;
      // A full batch may have left more due: look again at once while there is room.
      if (started > 0 && in_flight_total_ < options_.max_in_flight) pause = {};
    } catch (const std::exception& e) {
      ++failures;
      spdlog::warn("deliver: sender: {}", e.what());
      pause = std::min<std::chrono::milliseconds>(
          options_.poll_interval * (1 << std::min(failures, 5)), std::chrono::seconds(5));
    }
    if (pause.count() > 0) wait(stop, pause);
  }
  drain();
}

void DeliverySender::drain() {
  const auto until = std::chrono::steady_clock::now() + options_.shutdown_grace;
  while (in_flight_total_ > 0) {
    try {
      record_finished();
    } catch (const std::exception& e) {
      spdlog::warn("deliver: sender: {}", e.what());
      break;
    }
    if (in_flight_total_ == 0) break;
    std::unique_lock lock(mailbox_->mutex);
    if (!mailbox_->changed.wait_until(lock, until, [&] { return !mailbox_->finished.empty(); })) {
      break;
    }
  }
  if (leases_.empty()) return;
  // The attempts still running may or may not reach their receivers; handing the deliveries
  // back now lets another sender retry them at once instead of after the lease (same id, so a
  // receiver can drop the duplicate).
  try {
    pool_.transact([&](pqxx::work& txn) {
      for (const auto& [id, lease_until] : leases_) {
        txn.exec_params(
            "UPDATE webhook_deliveries SET locked_until = NULL"
            " WHERE id = $1 AND locked_until = $2::timestamptz",
            id, lease_until);
      }
    });
    spdlog::info("deliver: handed back {} deliveries still in flight at shutdown", leases_.size());
  } catch (const std::exception& e) {
    spdlog::warn("deliver: could not hand back leases ({}); they run out by themselves", e.what());
  }
  leases_.clear();
  in_flight_by_subscription_.clear();
  in_flight_total_ = 0;
}

}  // namespace keyflow
