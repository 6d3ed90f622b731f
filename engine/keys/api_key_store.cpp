#include "engine/keys/api_key_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "engine/core/time_format.hpp"
#include "engine/store/sql_values.hpp"

namespace keyflow {
namespace {

// Every ORDER BY below names its table: a bare name would mean the output column of that name,
// the text rendering, sorting timestamps as strings and bypassing the indexes.
constexpr const char* kColumns =
    "id::text, organization_id::text, project_id::text, environment_id::text, name, key_prefix,"
    " array_to_json(scopes)::text, enabled, expires_at::text, last_used_at::text,"
    " created_at::text, revoked_at::text, replaced_by_key_id::text, grace_expires_at::text,"
    " rotation_interval_days, next_rotation_at::text, rotation_webhook_url, meta::text,"
    " array_to_json(allowed_cidrs)::text, encode(rotation_public_key, 'base64'),"
    " rotation_grace_seconds, rotated_from::text, rotation_webhook_secret_sealed IS NOT NULL";

// RotationInputs, as scalar sub-selects so that a FOR UPDATE beside them locks only the key.
constexpr const char* kRotationInputColumns =
    "coalesce((SELECT p.key_prefix FROM projects p WHERE p.id = api_keys.project_id), 'kf'),"
    " coalesce((SELECT e.name FROM environments e WHERE e.id = api_keys.environment_id"
    "  AND e.project_id = api_keys.project_id), ''),"
    " api_keys.rotation_webhook_secret_sealed";

// From the row's last three columns (kRotationInputColumns come last).
RotationInputs read_rotation_inputs(const pqxx::row& r) {
  const auto first = static_cast<pqxx::row::size_type>(r.size() - 3);
  RotationInputs in;
  in.key_prefix = r[first].as<std::string>();
  in.environment = r[first + 1].as<std::string>();
  if (!r[first + 2].is_null()) {
    const pqxx::binarystring sealed(r[first + 2]);
    in.rotation_secret_sealed = Bytes(sealed.data(), sealed.data() + sealed.size());
  }
  return in;
}

ApiKey read_key(const pqxx::row& r) {
  ApiKey k;
  k.id = r[0].as<std::string>();
  k.organization_id = r[1].as<std::string>();
  k.project_id = optional_text(r[2]);
  k.environment_id = optional_text(r[3]);
  k.name = r[4].as<std::string>();
  k.key_prefix = r[5].as<std::string>();
  k.scopes = json_string_array(r[6]);
  k.enabled = r[7].as<bool>();
  k.expires_at = optional_timestamp(r[8]);
  k.last_used_at = optional_timestamp(r[9]);
  k.created_at = timestamp_of(r[10]);
  k.revoked_at = optional_timestamp(r[11]);
  k.replaced_by_key_id = optional_text(r[12]);
  k.grace_expires_at = optional_timestamp(r[13]);
  k.rotation_interval_days = optional_int(r[14]);
  k.next_rotation_at = optional_timestamp(r[15]);
  k.rotation_webhook_url = optional_text(r[16]);
  k.meta = optional_text(r[17]);
  k.allowed_cidrs = json_string_array(r[18]);
  k.rotation_public_key = optional_text(r[19]);
  k.rotation_grace_seconds = optional_int(r[20]);
  k.rotated_from = optional_text(r[21]);
  k.has_rotation_secret = r[22].as<bool>();
  return k;
}

std::optional<ApiKey> first_key(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return read_key(r[0]);
}

}  // namespace

bool ApiKeyStore::insert(pqxx::work& txn, const ApiKey& k, const Bytes& key_hash,
                         const std::optional<Bytes>& rotation_secret_sealed) {
  return txn.exec_params(
                "INSERT INTO api_keys (id, organization_id, project_id, environment_id, name, "
                "key_prefix,"
                " key_hash, scopes, enabled, expires_at, created_at, updated_at, "
                "rotation_interval_days,"
                " next_rotation_at, rotation_webhook_url, meta, allowed_cidrs, rotation_public_key,"
                " rotation_grace_seconds, rotated_from, rotation_webhook_secret_sealed)"
                " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5, $6, $7, $8::text[], "
                "$9,"
                " $10::timestamptz, $11::timestamptz, $11::timestamptz, $12, $13::timestamptz, $14,"
                " $15::jsonb, $16::text[], decode($17, 'base64'), $18, $19::bigint, $20::bytea)"
                " ON CONFLICT (id) DO NOTHING",
                k.id, k.organization_id, k.project_id, k.environment_id, k.name, k.key_prefix,
                pqxx::binarystring(key_hash.data(), key_hash.size()), text_array_literal(k.scopes),
                k.enabled, timestamp_param(k.expires_at), sql_timestamp(k.created_at),
                k.rotation_interval_days, timestamp_param(k.next_rotation_at),
                k.rotation_webhook_url, k.meta, text_array_literal(k.allowed_cidrs),
                k.rotation_public_key, k.rotation_grace_seconds, k.rotated_from,
                bytea_param(rotation_secret_sealed))
             .affected_rows() == 1;
}

void ApiKeyStore::insert_many(pqxx::work& txn, const std::vector<KeyRow>& rows) {
  if (rows.empty()) return;
  using boost::json::value_from;  // nullopt -> null, vectors -> arrays
  boost::json::array json;
  for (const auto& row : rows) {
    const ApiKey& k = row.key;
    json.push_back({
        {"id", k.id},
        {"organization_id", k.organization_id},
        {"project_id", value_from(k.project_id)},
        {"environment_id", value_from(k.environment_id)},
        {"name", k.name},
        {"key_prefix", k.key_prefix},
        {"key_hash", *bytea_param(row.key_hash)},
        {"scopes", value_from(k.scopes)},
        {"enabled", k.enabled},
        {"expires_at", value_from(timestamp_param(k.expires_at))},
        {"created_at", sql_timestamp(k.created_at)},
        {"rotation_interval_days", value_from(k.rotation_interval_days)},
        {"next_rotation_at", value_from(timestamp_param(k.next_rotation_at))},
        {"rotation_webhook_url", value_from(k.rotation_webhook_url)},
        {"meta", value_from(k.meta)},
        {"allowed_cidrs", value_from(k.allowed_cidrs)},
        {"rotation_public_key", value_from(k.rotation_public_key)},
        {"rotation_grace_seconds", value_from(k.rotation_grace_seconds)},
        {"rotated_from", value_from(k.rotated_from)},
        {"secret", value_from(bytea_param(row.rotation_secret_sealed))},
    });
  }
  // The same columns as insert(), from one JSON parameter: one round trip for the batch.
  txn.exec_params(
      "INSERT INTO api_keys (id, organization_id, project_id, environment_id, name, key_prefix,"
      " key_hash, scopes, enabled, expires_at, created_at, updated_at, rotation_interval_days,"
      " next_rotation_at, rotation_webhook_url, meta, allowed_cidrs, rotation_public_key,"
      " rotation_grace_seconds, rotated_from, rotation_webhook_secret_sealed)"
      " SELECT id, organization_id, project_id, environment_id, name, key_prefix, key_hash,"
      "  scopes, enabled, expires_at, created_at, created_at, rotation_interval_days,"
      "  next_rotation_at, rotation_webhook_url, meta::jsonb, allowed_cidrs,"
      "  decode(rotation_public_key, 'base64'), rotation_grace_seconds, rotated_from, secret"
      " FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, organization_id bigint, project_id "
      "bigint,"
      "  environment_id bigint, name text, key_prefix text, key_hash bytea, scopes text[],"
      "  enabled boolean, expires_at timestamptz, created_at timestamptz,"
      "  rotation_interval_days integer, next_rotation_at timestamptz, rotation_webhook_url text,"
      "  meta text, allowed_cidrs text[], rotation_public_key text,"
      "  rotation_grace_seconds integer, rotated_from bigint, secret bytea)",
      boost::json::serialize(json));
}

void ApiKeyStore::set_rotation_secret(pqxx::work& txn, const std::string& id,
                                      const std::optional<Bytes>& sealed, TimePoint at) {
  txn.exec_params(
      "UPDATE api_keys SET rotation_webhook_secret_sealed = $2::bytea,"
      " updated_at = $3::timestamptz WHERE id = $1::bigint",
      id, bytea_param(sealed), sql_timestamp(at));
}

std::optional<ApiKey> ApiKeyStore::find(pqxx::work& txn, const std::string& id) {
  return first_key(txn.exec_params(
      std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = $1::bigint", id));
}

std::optional<ApiKey> ApiKeyStore::find_for_update(pqxx::work& txn, const std::string& id) {
  return first_key(txn.exec_params(
      std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = $1::bigint FOR UPDATE", id));
}

std::optional<ApiKey> ApiKeyStore::find_by_hash(pqxx::work& txn, const Bytes& key_hash) {
  return first_key(
      txn.exec_params(std::string("SELECT ") + kColumns + " FROM api_keys WHERE key_hash = $1",
                      pqxx::binarystring(key_hash.data(), key_hash.size())));
}

std::vector<ApiKey> ApiKeyStore::list(pqxx::work& txn, const ListQuery& q) {
  // Optional filters as "param IS NULL OR ..." keep one static, prepared-friendly statement.
  const std::string sql =
      std::string("SELECT ") + kColumns +
      " FROM api_keys WHERE ($1::bigint IS NULL OR organization_id = $1::bigint)"
      " AND ($2::bigint IS NULL OR project_id = $2::bigint)"
      " AND ($3::bigint IS NULL OR environment_id = $3::bigint)"
      " AND ($4::text IS NULL"
      "  OR ($4 = 'revoked' AND revoked_at IS NOT NULL)"
      "  OR ($4 = 'active' AND revoked_at IS NULL"
      "      AND (expires_at IS NULL OR expires_at > $5::timestamptz)"
      "      AND (replaced_by_key_id IS NULL OR grace_expires_at > $5::timestamptz))"
      "  OR ($4 = 'expired' AND revoked_at IS NULL"
      "      AND (expires_at <= $5::timestamptz OR (replaced_by_key_id IS NOT NULL"
      "           AND (grace_expires_at IS NULL OR grace_expires_at <= $5::timestamptz)))))"
      " AND ($6::timestamptz IS NULL OR (created_at, id) < ($6::timestamptz, $7::bigint))"
      " ORDER BY api_keys.created_at DESC, api_keys.id DESC LIMIT $8";
  std::optional<std::string> after_time;
  std::optional<std::string> after_id;
  if (q.after) {
    after_time = sql_timestamp(q.after->first);
    after_id = q.after->second;
  }
  std::vector<ApiKey> keys;
  for (const auto& row :
       txn.exec_params(sql, q.organization_id, q.project_id, q.environment_id, q.state,
                       sql_timestamp(q.now), after_time, after_id, q.limit)) {
    keys.push_back(read_key(row));
  }
  return keys;
}

void ApiKeyStore::update(pqxx::work& txn, const ApiKey& k, TimePoint at) {
  txn.exec_params(
      "UPDATE api_keys SET name = $2, scopes = $3::text[], expires_at = $4::timestamptz,"
      " rotation_interval_days = $5, next_rotation_at = $6::timestamptz,"
      " rotation_webhook_url = $7, environment_id = $8::bigint, enabled = $9, meta = $10::jsonb,"
      " allowed_cidrs = $11::text[], updated_at = $12::timestamptz,"
      " rotation_public_key = decode($13, 'base64'), rotation_grace_seconds = $14"
      " WHERE id = $1::bigint",
      k.id, k.name, text_array_literal(k.scopes), timestamp_param(k.expires_at),
      k.rotation_interval_days, timestamp_param(k.next_rotation_at), k.rotation_webhook_url,
      k.environment_id, k.enabled, k.meta, text_array_literal(k.allowed_cidrs), sql_timestamp(at),
      k.rotation_public_key, k.rotation_grace_seconds);
}

void ApiKeyStore::record_last_used(pqxx::work& txn,
                                   const std::vector<std::pair<std::string, TimePoint>>& uses) {
  if (uses.empty()) return;
  std::vector<std::string> ids;
  std::vector<std::string> times;
  for (const auto& [id, at] : uses) {
    ids.push_back(id);
    times.push_back(sql_timestamp(at));
  }
  txn.exec_params(
      "UPDATE api_keys SET last_used_at = v.t"
      " FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, t)"
      " WHERE api_keys.id = v.id AND (last_used_at IS NULL OR last_used_at < v.t)",
      text_array_literal(ids), text_array_literal(times));
}

void ApiKeyStore::mark_revoked(pqxx::work& txn, const std::string& id, TimePoint at) {
  txn.exec_params(
      "UPDATE api_keys SET revoked_at = $2::timestamptz, updated_at = $2::timestamptz,"
      " next_rotation_at = NULL WHERE id = $1::bigint",
      id, sql_timestamp(at));
}

void ApiKeyStore::mark_replaced(pqxx::work& txn, const std::vector<Replacement>& replacements,
                                TimePoint at) {
  if (replacements.empty()) return;
  boost::json::array rows;
  for (const auto& r : replacements) {
    rows.push_back({{"id", r.id},
                    {"replaced_by", r.replaced_by},
                    {"grace_expires_at", sql_timestamp(r.grace_expires_at)}});
  }
  txn.exec_params(
      "UPDATE api_keys k SET replaced_by_key_id = r.replaced_by,"
      " grace_expires_at = r.grace_expires_at, next_rotation_at = NULL,"
      " updated_at = $2::timestamptz"
      " FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, replaced_by bigint,"
      "  grace_expires_at timestamptz)"
      " WHERE k.id = r.id",
      boost::json::serialize(rows), sql_timestamp(at));
}

RotationInputs ApiKeyStore::rotation_inputs(pqxx::work& txn, const std::string& id) {
  const auto r = txn.exec_params(
      std::string("SELECT ") + kRotationInputColumns + " FROM api_keys WHERE id = $1::bigint", id);
  return r.empty() ? RotationInputs{} : read_rotation_inputs(r[0]);
}

std::vector<LockedKey> ApiKeyStore::lock_due_for_rotation(pqxx::work& txn, TimePoint now,
                                                          int limit) {
  std::vector<LockedKey> keys;
  for (const auto& row : in_due_order(txn, [&] {
         return txn.exec_params(
             std::string("SELECT ") + kColumns + ", " + kRotationInputColumns +
                 " FROM api_keys WHERE next_rotation_at <= $1::timestamptz AND revoked_at IS NULL"
                 " AND replaced_by_key_id IS NULL AND enabled"
                 // An expired or disabled key is not rotated: rotation would hand out a working
                 // key the owner has turned off. Nor one with nowhere to send its replacement.
                 " AND (expires_at IS NULL OR expires_at > $1::timestamptz)"
                 " AND rotation_webhook_url IS NOT NULL"
                 " AND rotation_webhook_secret_sealed IS NOT NULL"
                 " ORDER BY api_keys.next_rotation_at LIMIT $2 FOR UPDATE SKIP LOCKED",
             sql_timestamp(now), limit);
       })) {
    keys.push_back({read_key(row), read_rotation_inputs(row)});
  }
  return keys;
}

// The expiry sweeps start from api_keys_expiry_due's predicate, so that the planner uses it.
constexpr const char* kExpiryDue =
    " FROM api_keys WHERE expires_at IS NOT NULL AND revoked_at IS NULL"
    " AND (expiring_sent_for IS DISTINCT FROM expires_at"
    "      OR expired_sent_for IS DISTINCT FROM expires_at)";

std::vector<ApiKey> ApiKeyStore::lock_expiring(pqxx::work& txn, TimePoint now,
                                               std::chrono::seconds warning, int limit) {
  std::vector<ApiKey> keys;
  for (const auto& row : in_due_order(txn, [&] {
         return txn.exec_params(std::string("SELECT ") + kColumns + kExpiryDue +
                                    " AND expires_at > $1::timestamptz"
                                    " AND expires_at <= $1::timestamptz + make_interval(secs => $2)"
                                    " AND expiring_sent_for IS DISTINCT FROM expires_at"
                                    " AND replaced_by_key_id IS NULL"
                                    " ORDER BY api_keys.expires_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                                sql_timestamp(now), static_cast<double>(warning.count()), limit);
       })) {
    keys.push_back(read_key(row));
  }
  return keys;
}

std::vector<ApiKey> ApiKeyStore::lock_expired(pqxx::work& txn, TimePoint now, int limit) {
  std::vector<ApiKey> keys;
  for (const auto& row : in_due_order(txn, [&] {
         return txn.exec_params(std::string("SELECT ") + kColumns + kExpiryDue +
                                    " AND expires_at <= $1::timestamptz"
                                    " AND expired_sent_for IS DISTINCT FROM expires_at"
                                    " AND replaced_by_key_id IS NULL"
                                    " ORDER BY api_keys.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                                sql_timestamp(now), limit);
       })) {
    keys.push_back(read_key(row));
  }
  return keys;
}

void ApiKeyStore::mark_expiring_sent(pqxx::work& txn, const ApiKey& key) {
  txn.exec_params("UPDATE api_keys SET expiring_sent_for = $2::timestamptz WHERE id = $1::bigint",
                  key.id, timestamp_param(key.expires_at));
}

void ApiKeyStore::mark_expired_sent(pqxx::work& txn, const ApiKey& key) {
  // An expired key needs no warning any more either.
  txn.exec_params(
      "UPDATE api_keys SET expired_sent_for = $2::timestamptz,"
      " expiring_sent_for = $2::timestamptz WHERE id = $1::bigint",
      key.id, timestamp_param(key.expires_at));
}

std::vector<ApiKey> ApiKeyStore::lock_grace_ended(pqxx::work& txn, TimePoint now, int limit) {
  std::vector<ApiKey> keys;
  for (const auto& row : in_due_order(txn, [&] {
         return txn.exec_params(
             std::string("SELECT ") + kColumns +
                 " FROM api_keys WHERE replaced_by_key_id IS NOT NULL AND grace_ended_at IS NULL"
                 " AND revoked_at IS NULL AND grace_expires_at <= $1::timestamptz"
                 " ORDER BY api_keys.grace_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
             sql_timestamp(now), limit);
       })) {
    keys.push_back(read_key(row));
  }
  return keys;
}

void ApiKeyStore::mark_grace_ended(pqxx::work& txn, const std::string& id, TimePoint at) {
  txn.exec_params("UPDATE api_keys SET grace_ended_at = $2::timestamptz WHERE id = $1::bigint", id,
                  sql_timestamp(at));
}

void ApiKeyStore::set_grace_expires_at(pqxx::work& txn, const std::string& id, TimePoint until,
                                       TimePoint at) {
  txn.exec_params(
      "UPDATE api_keys SET grace_expires_at = $2::timestamptz, updated_at = $3::timestamptz"
      " WHERE id = $1::bigint",
      id, sql_timestamp(until), sql_timestamp(at));
}

}  // namespace keyflow
