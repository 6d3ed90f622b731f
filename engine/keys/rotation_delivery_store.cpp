#include "engine/keys/rotation_delivery_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "engine/store/delivery_attempts.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {
namespace {

std::optional<Bytes> optional_bytes(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  const pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

}  // namespace

void RotationDeliveryStore::insert(pqxx::work& txn, const std::vector<RotationDelivery>& deliveries,
                                   TimePoint at) {
  if (deliveries.empty()) return;
  boost::json::array rows;
  for (const auto& d : deliveries) {
    rows.push_back({{"id", d.id},
                    {"old_key_id", d.old_key_id},
                    {"new_key_id", d.new_key_id},
                    {"url", d.url},
                    {"payload", d.payload},
                    {"key_sealed", boost::json::value_from(bytea_param(d.key_sealed))},
                    {"sealed_key", boost::json::value_from(d.sealed_key)},
                    {"next_attempt_at", sql_timestamp(d.next_attempt_at)}});
  }
  txn.exec_params(
      "INSERT INTO rotation_deliveries (id, old_key_id, new_key_id, url, payload, key_sealed,"
      " sealed_key, next_attempt_at, created_at, updated_at)"
      " SELECT id, old_key_id, new_key_id, url, payload, key_sealed, sealed_key,"
      "  next_attempt_at, $2::timestamptz, $2::timestamptz"
      " FROM jsonb_to_recordset($1::jsonb) AS r(id text, old_key_id bigint, new_key_id bigint,"
      "  url text, payload jsonb, key_sealed bytea, sealed_key text, next_attempt_at timestamptz)",
      boost::json::serialize(rows), sql_timestamp(at));
}

std::vector<RotationDeliveryStore::Candidate> RotationDeliveryStore::due_candidates(
    pqxx::work& txn, TimePoint now, std::size_t limit, const std::vector<std::string>& skip_urls) {
  const auto rows = in_due_order(txn, [&] {
    return txn.exec_params(
        "SELECT id, url FROM rotation_deliveries"
        " WHERE status = 'pending' AND next_attempt_at <= $1::timestamptz"
        "   AND (locked_until IS NULL OR locked_until < $1::timestamptz)"
        "   AND NOT (url = ANY ($3::text[]))"
        " ORDER BY next_attempt_at LIMIT $2",
        sql_timestamp(now), static_cast<long>(limit), text_array_literal(skip_urls));
  });
  std::vector<Candidate> candidates;
  for (const auto& row : rows)
    candidates.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
  return candidates;
}

std::vector<DueRotationDelivery> RotationDeliveryStore::lock_due(
    pqxx::work& txn, const std::vector<std::string>& ids, TimePoint now, TimePoint lease_until) {
  if (ids.empty()) return {};
  // Still due and free: another sender may have taken one since it was read. The ids are
  // joined from unnest so that each is looked up by its key, never by scanning what is due
  // (which stale statistics of a fast-growing table would otherwise plan).
  const auto rows = txn.exec_params(
      "WITH picked AS ("
      "  SELECT d.id FROM unnest($1::text[]) AS p (id)"
      "    JOIN rotation_deliveries d ON d.id = p.id"
      "   WHERE d.status = 'pending' AND d.next_attempt_at <= $2::timestamptz"
      "     AND (d.locked_until IS NULL OR d.locked_until < $2::timestamptz)"
      "   FOR UPDATE OF d SKIP LOCKED)"
      " UPDATE rotation_deliveries d SET locked_until = $3::timestamptz"
      "  FROM picked, api_keys k"
      " WHERE d.id = picked.id AND k.id = d.old_key_id"
      " RETURNING d.id, d.url, d.attempts, d.payload::text, d.key_sealed, d.sealed_key,"
      "  k.rotation_webhook_secret_sealed",
      text_array_literal(ids), sql_timestamp(now), sql_timestamp(lease_until));
  std::vector<DueRotationDelivery> due;
  for (const auto& row : rows) {
    DueRotationDelivery d;
    d.id = row[0].as<std::string>();
    d.url = row[1].as<std::string>();
    d.attempt = row[2].as<int>() + 1;
    d.payload = boost::json::parse(row[3].c_str()).as_object();
    d.key_sealed = optional_bytes(row[4]);
    d.sealed_key = optional_text(row[5]);
    d.secret_sealed = optional_bytes(row[6]);
    due.push_back(std::move(d));
  }
  return due;
}

std::vector<std::string> RotationDeliveryStore::record_attempts(
    pqxx::work& txn, const std::vector<DeliveryAttempt>& attempts, TimePoint now) {
  if (attempts.empty()) return {};
  const auto json = delivery_attempts_json(attempts);
  txn.exec_params(std::string("INSERT INTO rotation_delivery_attempts (delivery_id, attempted_at,"
                              " status_code, latency_ms, error, response_body)"
                              " SELECT id, attempted_at, status_code, latency_ms, error,"
                              "  response_body") +
                      kDeliveryAttemptRows,
                  json);
  // Delivered: the key need not exist here any longer.
  const auto updated = txn.exec_params(
      std::string(
          "UPDATE rotation_deliveries d SET attempts = d.attempts + 1,"
          " status = r.status, next_attempt_at = r.next_attempt_at, locked_until = NULL,"
          " last_status_code = r.status_code, last_error = r.error,"
          " updated_at = $2::timestamptz,"
          " key_sealed = CASE WHEN r.status = 'succeeded' THEN NULL ELSE d.key_sealed END,"
          " sealed_key = CASE WHEN r.status = 'succeeded' THEN NULL ELSE d.sealed_key END") +
          kDeliveryAttemptRows +
          " WHERE d.id = r.id AND d.locked_until = r.lease_until RETURNING d.id",
      json, sql_timestamp(now));
  return attempts_not_updated(attempts, updated);
}

void RotationDeliveryStore::release(pqxx::work& txn, const std::string& id, TimePoint lease_until) {
  txn.exec_params(
      "UPDATE rotation_deliveries SET locked_until = NULL"
      " WHERE id = $1 AND locked_until = $2::timestamptz",
      id, sql_timestamp(lease_until));
}

std::vector<RotationDeliveryStore::Undelivered>
RotationDeliveryStore::lock_undelivered_near_grace_end(pqxx::work& txn, TimePoint now,
                                                       std::chrono::seconds lead, int limit) {
  std::vector<Undelivered> out;
  for (const auto& row : in_due_order(txn, [&] {
         return txn.exec_params(
             "SELECT d.id, d.old_key_id::text FROM rotation_deliveries d"
             "  JOIN api_keys k ON k.id = d.old_key_id"
             " WHERE d.status IN ('pending', 'dead') AND NOT d.grace_extended"
             "   AND k.revoked_at IS NULL AND k.replaced_by_key_id IS NOT NULL"
             "   AND k.grace_ended_at IS NULL AND k.grace_expires_at > $1::timestamptz"
             "   AND k.grace_expires_at <= $1::timestamptz + make_interval(secs => $2)"
             " ORDER BY k.grace_expires_at LIMIT $3"
             " FOR UPDATE OF d, k SKIP LOCKED",
             sql_timestamp(now), static_cast<double>(lead.count()), limit);
       })) {
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
  }
  return out;
}

void RotationDeliveryStore::mark_grace_extended(pqxx::work& txn, const std::string& delivery_id,
                                                TimePoint now) {
  txn.exec_params(
      "UPDATE rotation_deliveries SET grace_extended = true, status = 'pending', attempts = 0,"
      " next_attempt_at = $2::timestamptz, updated_at = $2::timestamptz WHERE id = $1",
      delivery_id, sql_timestamp(now));
}

int RotationDeliveryStore::expire_undelivered(pqxx::work& txn, const std::string& old_key_id,
                                              TimePoint now) {
  return static_cast<int>(
      txn.exec_params("UPDATE rotation_deliveries SET status = 'expired', key_sealed = NULL,"
                      " sealed_key = NULL, locked_until = NULL, updated_at = $2::timestamptz"
                      " WHERE old_key_id = $1::bigint AND status IN ('pending', 'dead')",
                      old_key_id, sql_timestamp(now))
          .affected_rows());
}

}  // namespace keyflow
