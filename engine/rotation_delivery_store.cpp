#include "engine/rotation_delivery_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/sql_values.hpp"

namespace keyflow {
namespace {

std::optional<Bytes> optional_bytes(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  const pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

}  // namespace

void RotationDeliveryStore::insert(pqxx::work& txn, const RotationDelivery& d, TimePoint at) {
  txn.exec_params(
      "INSERT INTO rotation_deliveries (id, old_key_id, new_key_id, url, payload, key_sealed,"
      " sealed_key, next_attempt_at, created_at, updated_at)"
      " VALUES ($1, $2::uuid, $3::uuid, $4, $5::jsonb, $6::bytea, $7, $8::timestamptz,"
      " $9::timestamptz, $9::timestamptz)",
      d.id, d.old_key_id, d.new_key_id, d.url, boost::json::serialize(d.payload),
      bytea_param(d.key_sealed), d.sealed_key, sql_timestamp(d.next_attempt_at), sql_timestamp(at));
}

std::vector<DueRotationDelivery> RotationDeliveryStore::lock_due(pqxx::work& txn, TimePoint now,
                                                                 std::size_t limit) {
  const auto rows = txn.exec_params(
      "SELECT d.id, d.url, d.attempts, d.payload::text, d.key_sealed, d.sealed_key,"
      "  k.rotation_webhook_secret_sealed"
      "  FROM rotation_deliveries d JOIN api_keys k ON k.id = d.old_key_id"
      " WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz"
      "   AND (d.locked_until IS NULL OR d.locked_until < $1::timestamptz)"
      " ORDER BY d.next_attempt_at LIMIT $2"
      " FOR UPDATE OF d SKIP LOCKED",
      sql_timestamp(now), static_cast<long>(limit));
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

void RotationDeliveryStore::lease(pqxx::work& txn, const std::vector<std::string>& ids,
                                  TimePoint lease_until) {
  if (ids.empty()) return;
  txn.exec_params(
      "UPDATE rotation_deliveries SET locked_until = $1::timestamptz WHERE id = ANY ($2::text[])",
      sql_timestamp(lease_until), text_array_literal(ids));
}

bool RotationDeliveryStore::record_attempt(pqxx::work& txn, const std::string& id,
                                           TimePoint lease_until, TimePoint attempted_at,
                                           std::optional<int> status_code, int latency_ms,
                                           const std::optional<std::string>& error,
                                           const std::string& status, TimePoint next_attempt_at,
                                           TimePoint now) {
  txn.exec_params(
      "INSERT INTO rotation_delivery_attempts (delivery_id, attempted_at, status_code,"
      " latency_ms, error) VALUES ($1, $2::timestamptz, $3, $4, $5)",
      id, sql_timestamp(attempted_at), status_code, latency_ms, error);
  // Delivered: the key need not exist here any longer.
  const auto updated = txn.exec_params(
      "UPDATE rotation_deliveries SET attempts = attempts + 1, status = $2,"
      " next_attempt_at = $3::timestamptz, locked_until = NULL, last_status_code = $4,"
      " last_error = $5, updated_at = $6::timestamptz,"
      " key_sealed = CASE WHEN $2 = 'succeeded' THEN NULL ELSE key_sealed END,"
      " sealed_key = CASE WHEN $2 = 'succeeded' THEN NULL ELSE sealed_key END"
      " WHERE id = $1 AND locked_until = $7::timestamptz",
      id, status, sql_timestamp(next_attempt_at), status_code, error, sql_timestamp(now),
      sql_timestamp(lease_until));
  return updated.affected_rows() > 0;
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
  for (const auto& row :
       txn.exec_params("SELECT d.id, d.old_key_id::text FROM rotation_deliveries d"
                       "  JOIN api_keys k ON k.id = d.old_key_id"
                       " WHERE d.status IN ('pending', 'dead') AND NOT d.grace_extended"
                       "   AND k.revoked_at IS NULL AND k.grace_expires_at > $1::timestamptz"
                       "   AND k.grace_expires_at <= $1::timestamptz + make_interval(secs => $2)"
                       " ORDER BY k.grace_expires_at LIMIT $3"
                       " FOR UPDATE OF d, k SKIP LOCKED",
                       sql_timestamp(now), static_cast<double>(lead.count()), limit)) {
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
                      " WHERE old_key_id = $1::uuid AND status IN ('pending', 'dead')",
                      old_key_id, sql_timestamp(now))
          .affected_rows());
}

}  // namespace keyflow
