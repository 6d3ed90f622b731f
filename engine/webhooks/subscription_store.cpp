#include "engine/webhooks/subscription_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "engine/store/sql_values.hpp"
#include "engine/webhooks/webhook_secret.hpp"

namespace keyflow {
namespace {

constexpr const char* kColumns =
    "s.id::text, s.organization_id::text, s.project_id::text, s.url,"
    " array_to_json(s.event_types)::text, s.description, s.status, s.disabled_reason,"
    " s.created_at, s.updated_at, s.public_key, array_to_json(s.retry_schedule)::text,"
    " s.rate_limit";

WebhookSubscription read(const pqxx::row& r) {
  WebhookSubscription s;
  s.id = r[0].c_str();
  s.organization_id = optional_text(r[1]);
  s.project_id = optional_text(r[2]);
  s.url = r[3].c_str();
  s.event_types = json_string_array(r[4]);
  s.description = optional_text(r[5]);
  s.status = r[6].c_str();
  s.disabled_reason = optional_text(r[7]);
  s.created_at = timestamp_of(r[8]);
  s.updated_at = timestamp_of(r[9]);
  if (!r[10].is_null()) {
    const pqxx::binarystring key(r[10]);
    s.public_key = public_key_text(Bytes(key.data(), key.data() + key.size()));
  }
  if (!r[11].is_null()) s.retry_schedule = json_int_array(r[11]);
  s.rate_limit = optional_int(r[12]);
  return s;
}

}  // namespace

void SubscriptionStore::insert(pqxx::work& txn, const WebhookSubscription& s,
                               const Bytes& secret_sealed, const SigningKeyColumns& signing) {
  txn.exec_params(
      "INSERT INTO webhook_subscriptions (id, organization_id, project_id, url, event_types,"
      " secret_sealed, status, description, created_at, updated_at, signing_key_sealed,"
      " public_key, retry_schedule, rate_limit)"
      " VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5::text[], $6, $7, $8, $9::timestamptz,"
      "  $9::timestamptz, $10::bytea, $11::bytea, $12::integer[], $13::integer)",
      s.id, s.organization_id, s.project_id, s.url, text_array_literal(s.event_types),
      pqxx::binarystring(secret_sealed.data(), secret_sealed.size()), s.status, s.description,
      sql_timestamp(s.created_at), bytea_param(signing.secret_key_sealed),
      bytea_param(signing.public_key), int_array_param(s.retry_schedule), s.rate_limit);
}

std::optional<WebhookSubscription> SubscriptionStore::find(pqxx::work& txn, const std::string& id,
                                                           bool for_update) {
  const auto rows = txn.exec_params(
      std::string("SELECT ") + kColumns +
          " FROM webhook_subscriptions s WHERE s.id = $1::bigint AND s.deleted_at IS NULL" +
          (for_update ? " FOR UPDATE" : ""),
      id);
  if (rows.empty()) return std::nullopt;
  return read(rows[0]);
}

std::vector<WebhookSubscription> SubscriptionStore::list(pqxx::work& txn, const ListQuery& q) {
  const auto rows = txn.exec_params(
      std::string("SELECT ") + kColumns +
          " FROM webhook_subscriptions s WHERE s.deleted_at IS NULL"
          "   AND ($1::bigint IS NULL OR s.organization_id = $1::bigint)"
          "   AND ($2::bigint IS NULL OR s.project_id = $2::bigint)"
          "   AND ($3::timestamptz IS NULL OR (s.created_at, s.id) > ($3::timestamptz, $4::bigint))"
          " ORDER BY s.created_at, s.id LIMIT $5",
      q.organization_id, q.project_id,
      q.after ? std::optional(sql_timestamp(q.after->first)) : std::nullopt,
      q.after ? std::optional(q.after->second) : std::nullopt, q.limit);
  std::vector<WebhookSubscription> out;
  out.reserve(rows.size());
  for (const auto& row : rows)
    out.push_back(read(row));
  return out;
}

void SubscriptionStore::update(pqxx::work& txn, const WebhookSubscription& s) {
  txn.exec_params(
      "UPDATE webhook_subscriptions SET url = $2, event_types = $3::text[], description = $4,"
      " status = $5, disabled_reason = $6, updated_at = $7::timestamptz,"
      " retry_schedule = $8::integer[], rate_limit = $9::integer,"
      // Enabled again by a caller: its failing streak starts over.
      " failing_since = CASE WHEN $5 = 'enabled' AND status <> 'enabled' THEN NULL"
      "  ELSE failing_since END"
      " WHERE id = $1::bigint",
      s.id, s.url, text_array_literal(s.event_types), s.description, s.status, s.disabled_reason,
      sql_timestamp(s.updated_at), int_array_param(s.retry_schedule), s.rate_limit);
}

void SubscriptionStore::mark_deleted(pqxx::work& txn, const std::string& id, TimePoint at) {
  txn.exec_params(
      "UPDATE webhook_subscriptions SET status = 'disabled', disabled_reason = 'deleted',"
      " deleted_at = $2::timestamptz, updated_at = $2::timestamptz WHERE id = $1::bigint",
      id, sql_timestamp(at));
}

std::optional<Bytes> SubscriptionStore::secret_sealed(pqxx::work& txn, const std::string& id) {
  const auto rows = txn.exec_params(
      "SELECT secret_sealed FROM webhook_subscriptions WHERE id = $1::bigint AND deleted_at IS "
      "NULL",
      id);
  if (rows.empty()) return std::nullopt;
  const pqxx::binarystring b(rows[0][0]);
  return Bytes(b.data(), b.data() + b.size());
}

void SubscriptionStore::replace_secret(pqxx::work& txn, const std::string& id,
                                       const Bytes& secret_sealed, TimePoint previous_expires_at,
                                       TimePoint at) {
  txn.exec_params(
      "UPDATE webhook_subscriptions SET"
      " previous_secret_sealed = CASE WHEN $3::timestamptz > $4::timestamptz"
      "  THEN secret_sealed END,"
      " previous_secret_expires_at = CASE WHEN $3::timestamptz > $4::timestamptz"
      "  THEN $3::timestamptz END,"
      " secret_sealed = $2, updated_at = $4::timestamptz WHERE id = $1::bigint",
      id, pqxx::binarystring(secret_sealed.data(), secret_sealed.size()),
      sql_timestamp(previous_expires_at), sql_timestamp(at));
}

std::vector<SubscriptionStore::Streak> SubscriptionStore::record_failures(
    pqxx::work& txn, const std::vector<Failing>& failing) {
  if (failing.empty()) return {};
  boost::json::array rows;
  for (const auto& f : failing)
    rows.push_back({{"id", f.id}, {"since", sql_timestamp(f.since)}, {"dead", f.dead}});
  const auto result = txn.exec_params(
      "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
      "            AS r(id bigint, since timestamptz, dead boolean)),"
      " locked AS (SELECT s.id FROM webhook_subscriptions s JOIN r ON r.id = s.id"
      "             WHERE s.deleted_at IS NULL ORDER BY s.id FOR UPDATE OF s)"
      " UPDATE webhook_subscriptions s SET failing_since = coalesce(s.failing_since, r.since),"
      "  failing_reported = s.failing_reported OR r.dead"
      " FROM r WHERE s.id = r.id AND s.id IN (SELECT id FROM locked)"
      " RETURNING s.id::text, s.failing_since, s.status = 'enabled'",
      boost::json::serialize(rows));
  std::vector<Streak> out;
  out.reserve(result.size());
  for (const auto& row : result)
    out.push_back({row[0].c_str(), timestamp_of(row[1]), row[2].as<bool>()});
  return out;
}

std::vector<SubscriptionStore::EndedStreak> SubscriptionStore::end_failing_streaks(
    pqxx::work& txn, const std::vector<Answered>& answered) {
  if (answered.empty()) return {};
  boost::json::array rows;
  for (const auto& a : answered)
    rows.push_back({{"id", a.id}, {"dead", a.dead}});
  // Only the rows with a streak (or a dead delivery in this batch) are locked and written:
  // for a receiver that keeps answering, this changes nothing.
  const auto result = txn.exec_params(
      "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, dead boolean)),"
      " old AS (SELECT s.id, s.failing_since, s.failing_reported OR r.dead AS reported"
      "          FROM webhook_subscriptions s JOIN r ON r.id = s.id"
      "         WHERE s.deleted_at IS NULL"
      "           AND (s.failing_since IS NOT NULL OR s.failing_reported OR r.dead)"
      "         ORDER BY s.id FOR UPDATE OF s)"
      " UPDATE webhook_subscriptions s SET failing_since = NULL, failing_reported = false"
      " FROM old WHERE s.id = old.id"
      " RETURNING s.id::text, old.failing_since, old.reported",
      boost::json::serialize(rows));
  std::vector<EndedStreak> out;
  out.reserve(result.size());
  for (const auto& row : result)
    out.push_back({row[0].c_str(), optional_timestamp(row[1]), row[2].as<bool>()});
  return out;
}

void SubscriptionStore::mark_failing_reported(pqxx::work& txn, const std::string& id) {
  txn.exec_params("UPDATE webhook_subscriptions SET failing_reported = true WHERE id = $1::bigint",
                  id);
}

long SubscriptionStore::count_for_cap(pqxx::work& txn,
                                      const std::optional<std::string>& organization_id) {
  if (organization_id) {
    txn.exec_params("SELECT 1 FROM organizations WHERE id = $1::bigint FOR UPDATE",
                    *organization_id);
    return txn
        .exec_params1(
            "SELECT count(*) FROM webhook_subscriptions"
            " WHERE organization_id = $1::bigint AND deleted_at IS NULL",
            *organization_id)[0]
        .as<long>();
  }
  // Unscoped subscriptions are the admin's; a transaction-scoped advisory lock orders them.
  txn.exec("SELECT pg_advisory_xact_lock(7022154085)");
  return txn
      .exec1(
          "SELECT count(*) FROM webhook_subscriptions"
          " WHERE organization_id IS NULL AND deleted_at IS NULL")[0]
      .as<long>();
}

long SubscriptionStore::count_with_status(pqxx::work& txn, const std::string& status) {
  return txn
      .exec_params1(
          "SELECT count(*) FROM webhook_subscriptions"
          " WHERE status = $1 AND deleted_at IS NULL",
          status)[0]
      .as<long>();
}

}  // namespace keyflow
