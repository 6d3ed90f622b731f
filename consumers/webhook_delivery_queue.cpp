#include "consumers/webhook_delivery_queue.hpp"

#include <spdlog/spdlog.h>

#include "engine/store/sql_values.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {

std::vector<DueDelivery> WebhookDeliveryQueue::claim(
    TimePoint now, TimePoint lease_until, std::size_t limit,
    const std::vector<std::string>& saturated,
    const std::function<bool(const std::string&)>& admit) {
  return pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    // Two steps, so that only what is taken gets locked: read due deliveries in due order
    // (no locks), pick by the caps, then lock those picked that are still due and free.
    const auto candidates = in_due_order(txn, [&] {
      return txn.exec_params(
          "SELECT d.id, d.subscription_id::text"
          "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
          " WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz"
          "   AND (d.locked_until IS NULL OR d.locked_until < $1::timestamptz)"
          "   AND s.status = 'enabled'"
          "   AND NOT (d.subscription_id::text = ANY ($2::text[]))"
          " ORDER BY d.next_attempt_at"
          " LIMIT $3",
          sql_timestamp(now), text_array_literal(saturated), static_cast<long>(limit));
    });
    std::vector<std::string> picked;
    for (const auto& row : candidates) {
      if (admit(row[1].c_str())) picked.push_back(row[0].c_str());
    }
    if (picked.empty()) return std::vector<DueDelivery>{};
    const auto rows = txn.exec_params(
        "SELECT d.id, d.subscription_id, d.attempts, d.body, s.url, s.secret_sealed"
        "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.id = ANY ($1::text[]) AND d.status = 'pending'"
        "   AND d.next_attempt_at <= $2::timestamptz"
        "   AND (d.locked_until IS NULL OR d.locked_until < $2::timestamptz)"
        "   AND s.status = 'enabled'"
        " FOR UPDATE OF d SKIP LOCKED",
        text_array_literal(picked), sql_timestamp(now));
    std::vector<DueDelivery> due;
    std::vector<std::string> ids;
    for (const auto& row : rows) {
      const std::string subscription = row["subscription_id"].c_str();
      DueDelivery d;
      d.claim.delivery_id = row["id"].c_str();
      d.claim.group = subscription;
      d.claim.lease_until = lease_until;
      d.claim.attempt = row["attempts"].as<int>() + 1;
      d.body = row["body"].c_str();
      d.url = row["url"].c_str();
      const pqxx::binarystring sealed(row["secret_sealed"]);
      auto secret = box_.open(std::span(sealed.data(), sealed.size()), kWebhookSecretContext);
      if (secret) {
        d.secret = std::move(*secret);
      } else {
        d.error = "cannot decrypt the subscription's signing secret (wrong master key?)";
      }
      ids.push_back(d.claim.delivery_id);
      due.push_back(std::move(d));
    }
    if (!ids.empty()) {
      txn.exec_params(
          "UPDATE webhook_deliveries SET locked_until = $1::timestamptz"
          " WHERE id = ANY ($2::text[])",
          sql_timestamp(lease_until), text_array_literal(ids));
    }
    return due;
  });
}

void WebhookDeliveryQueue::record(const std::vector<DeliveryResult>& results, TimePoint now) {
  pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    for (const auto& f : results) {
      const auto& r = f.response;
      const auto status_code = r.recorded_status();
      const auto error = r.recorded_error();
      txn.exec_params(
          "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, "
          "error)"
          " VALUES ($1, $2::timestamptz, $3, $4, $5)",
          f.claim.delivery_id, sql_timestamp(f.attempted_at), status_code,
          static_cast<int>(r.latency.count()), error);
      // Only while the lease is still ours: a sender that took over after it ran out owns the
      // delivery's state now.
      const auto updated = txn.exec_params(
          "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2,"
          " next_attempt_at = $3::timestamptz, locked_until = NULL, last_status_code = $4,"
          " last_error = $5, updated_at = $6::timestamptz"
          " WHERE id = $1 AND locked_until = $7::timestamptz",
          f.claim.delivery_id, std::string(f.outcome.status),
          sql_timestamp(f.outcome.next_attempt_at), status_code, error, sql_timestamp(now),
          sql_timestamp(f.claim.lease_until));
      if (updated.affected_rows() == 0) {
        spdlog::warn("deliver: lease on {} ran out before its attempt was recorded",
                     f.claim.delivery_id);
      }
    }
  });
}

void WebhookDeliveryQueue::release(const std::vector<std::pair<std::string, TimePoint>>& leases) {
  pool_.transact([&](pqxx::work& txn) {
    commit_without_waiting_for_disk(txn);
    for (const auto& [id, lease_until] : leases) {
      txn.exec_params(
          "UPDATE webhook_deliveries SET locked_until = NULL"
          " WHERE id = $1 AND locked_until = $2::timestamptz",
          id, sql_timestamp(lease_until));
    }
  });
}

}  // namespace keyflow
