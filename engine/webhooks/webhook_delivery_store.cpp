#include "engine/webhooks/webhook_delivery_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "engine/store/sql_values.hpp"

namespace keyflow {

std::vector<std::string> WebhookDeliveryStore::matching_subscriptions(
    pqxx::work& txn, const std::string& event_type,
    const std::optional<std::string>& organization_id,
    const std::optional<std::string>& project_id) {
  // Compared as text so that a malformed id in the event matches nothing instead of failing
  // the cast (and with it, forever, the event).
  const auto rows = txn.exec_params(
      "SELECT id::text FROM webhook_subscriptions"
      " WHERE status = 'enabled'"
      "   AND (cardinality(event_types) = 0 OR EXISTS ("
      "     SELECT 1 FROM unnest(event_types) AS t"
      "      WHERE t = $1 OR (t LIKE '%.*' AND starts_with($1, left(t, -1)))))"
      "   AND (organization_id IS NULL OR organization_id::text = $2)"
      "   AND (project_id IS NULL OR project_id::text = $3)"
      " ORDER BY id",
      event_type, organization_id, project_id);
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& row : rows)
    ids.emplace_back(row[0].c_str());
  return ids;
}

std::size_t WebhookDeliveryStore::insert(pqxx::work& txn,
                                         const std::vector<NewWebhookDelivery>& deliveries,
                                         TimePoint at) {
  if (deliveries.empty()) return 0;
  boost::json::array rows;
  rows.reserve(deliveries.size());
  for (const auto& d : deliveries) {
    rows.push_back({{"id", d.id},
                    {"subscription_id", d.subscription_id},
                    {"event_id", d.event_id},
                    {"event_type", d.event_type},
                    {"body", d.body}});
  }
  return static_cast<std::size_t>(
      txn.exec_params(
             "INSERT INTO webhook_deliveries"
             " (id, subscription_id, event_id, event_type, body, next_attempt_at, created_at,"
             "  updated_at)"
             " SELECT id, subscription_id, event_id, event_type, body, $2::timestamptz,"
             "  $2::timestamptz, $2::timestamptz"
             " FROM jsonb_to_recordset($1::jsonb) AS r(id text, subscription_id bigint,"
             "  event_id uuid, event_type text, body text)"
             " ON CONFLICT (subscription_id, event_id) DO NOTHING",
             boost::json::serialize(rows), sql_timestamp(at))
          .affected_rows());
}

std::vector<WebhookDeliveryStore::Candidate> WebhookDeliveryStore::due_candidates(
    pqxx::work& txn, TimePoint now, std::size_t limit,
    const std::vector<std::string>& skip_subscriptions) {
  const auto rows = in_due_order(txn, [&] {
    return txn.exec_params(
        "SELECT d.id, d.subscription_id::text"
        "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz"
        "   AND (d.locked_until IS NULL OR d.locked_until < $1::timestamptz)"
        "   AND s.status = 'enabled'"
        "   AND NOT (d.subscription_id::text = ANY ($2::text[]))"
        " ORDER BY d.next_attempt_at"
        " LIMIT $3",
        sql_timestamp(now), text_array_literal(skip_subscriptions), static_cast<long>(limit));
  });
  std::vector<Candidate> candidates;
  candidates.reserve(rows.size());
  for (const auto& row : rows)
    candidates.push_back({row[0].c_str(), row[1].c_str()});
  return candidates;
}

std::vector<DueWebhookDelivery> WebhookDeliveryStore::lock_due(pqxx::work& txn,
                                                               const std::vector<std::string>& ids,
                                                               TimePoint now) {
  if (ids.empty()) return {};
  // Still due and free: another sender may have taken one since it was read.
  const auto rows = txn.exec_params(
      "SELECT d.id, d.subscription_id::text, d.attempts, d.body, s.url, s.secret_sealed,"
      "  CASE WHEN s.previous_secret_expires_at > $2::timestamptz"
      "   THEN s.previous_secret_sealed END"
      "  FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
      " WHERE d.id = ANY ($1::text[]) AND d.status = 'pending'"
      "   AND d.next_attempt_at <= $2::timestamptz"
      "   AND (d.locked_until IS NULL OR d.locked_until < $2::timestamptz)"
      "   AND s.status = 'enabled'"
      " FOR UPDATE OF d SKIP LOCKED",
      text_array_literal(ids), sql_timestamp(now));
  std::vector<DueWebhookDelivery> due;
  due.reserve(rows.size());
  for (const auto& row : rows) {
    const pqxx::binarystring sealed(row[5]);
    std::optional<Bytes> previous;
    if (!row[6].is_null()) {
      const pqxx::binarystring b(row[6]);
      previous = Bytes(b.data(), b.data() + b.size());
    }
    due.push_back({.id = row[0].c_str(),
                   .subscription_id = row[1].c_str(),
                   .attempt = row[2].as<int>() + 1,
                   .body = row[3].c_str(),
                   .url = row[4].c_str(),
                   .secret_sealed = Bytes(sealed.data(), sealed.data() + sealed.size()),
                   .previous_secret_sealed = std::move(previous)});
  }
  return due;
}

void WebhookDeliveryStore::lease(pqxx::work& txn, const std::vector<std::string>& ids,
                                 TimePoint lease_until) {
  if (ids.empty()) return;
  txn.exec_params(
      "UPDATE webhook_deliveries SET locked_until = $1::timestamptz WHERE id = ANY ($2::text[])",
      sql_timestamp(lease_until), text_array_literal(ids));
}

std::vector<std::string> WebhookDeliveryStore::record_attempts(
    pqxx::work& txn, const std::vector<DeliveryAttempt>& attempts, TimePoint now) {
  if (attempts.empty()) return {};
  const auto json = delivery_attempts_json(attempts);
  txn.exec_params(std::string("INSERT INTO webhook_attempts (delivery_id, attempted_at,"
                              " status_code, latency_ms, error, response_body)"
                              " SELECT id, attempted_at, status_code, latency_ms, error,"
                              "  response_body") +
                      kDeliveryAttemptRows,
                  json);
  const auto updated = txn.exec_params(
      std::string("UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
                  " status = r.status, next_attempt_at = r.next_attempt_at, locked_until = NULL,"
                  " last_status_code = r.status_code, last_error = r.error,"
                  " updated_at = $2::timestamptz") +
          kDeliveryAttemptRows +
          " WHERE d.id = r.id AND d.locked_until = r.lease_until RETURNING d.id",
      json, sql_timestamp(now));
  return attempts_not_updated(attempts, updated);
}

void WebhookDeliveryStore::release(pqxx::work& txn, const std::string& id, TimePoint lease_until) {
  txn.exec_params(
      "UPDATE webhook_deliveries SET locked_until = NULL"
      " WHERE id = $1 AND locked_until = $2::timestamptz",
      id, sql_timestamp(lease_until));
}

}  // namespace keyflow
