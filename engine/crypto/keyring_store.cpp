#include "engine/crypto/keyring_store.hpp"

#include "engine/store/sql_values.hpp"

namespace keyflow {
namespace {

Bytes bytes_of(const pqxx::field& f) {
  const pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

std::string bytea_literal(const Bytes& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  for (const auto b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

std::string id_column(const KeyringStore::SealedColumn& column) {
  return column.table == std::string_view("keyflow_keyring") ? "name" : "id";
}

}  // namespace

std::optional<KeyringStore::StoredPepper> KeyringStore::pepper(pqxx::work& txn) {
  const auto rows =
      txn.exec("SELECT version, sealed FROM keyflow_keyring WHERE name = 'hash_pepper'");
  if (rows.empty()) return std::nullopt;
  return StoredPepper{rows[0][0].as<int>(), bytes_of(rows[0][1])};
}

void KeyringStore::insert_pepper(pqxx::work& txn, int version, const Bytes& sealed) {
  txn.exec_params(
      "INSERT INTO keyflow_keyring (name, version, sealed) VALUES ('hash_pepper', $1, $2::bytea)"
      " ON CONFLICT (name) DO NOTHING",
      version, bytea_literal(sealed));
}

void KeyringStore::update_pepper(pqxx::work& txn, const Bytes& sealed) {
  txn.exec_params(
      "UPDATE keyflow_keyring SET sealed = $1::bytea, resealed_at = now()"
      " WHERE name = 'hash_pepper'",
      bytea_literal(sealed));
}

bool KeyringStore::has_key_hashes(pqxx::work& txn) {
  return txn
      .exec1("SELECT EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM event_write_keys)")[0]
      .as<bool>();
}

const std::vector<KeyringStore::SealedColumn>& KeyringStore::sealed_columns() {
  // Every column that holds a SecretBox value (a test checks the schema has no other).
  static const std::vector<SealedColumn> columns = {
      {"webhook_subscriptions", "bigint", "secret_sealed", "webhook_secret"},
      {"webhook_subscriptions", "bigint", "previous_secret_sealed", "webhook_secret"},
      {"webhook_subscriptions", "bigint", "signing_key_sealed", "webhook_signing_key"},
      {"api_keys", "bigint", "rotation_webhook_secret_sealed", "rotation_webhook_secret"},
      {"rotation_deliveries", "text", "key_sealed", "rotation_key"},
      {"event_write_keys", "uuid", "key_sealed", "event_write_key"},
      {"keyflow_keyring", "text", "sealed", "hash_pepper"},
  };
  return columns;
}

std::vector<KeyringStore::SealedValue> KeyringStore::not_sealed_with(pqxx::work& txn,
                                                                     const SealedColumn& column,
                                                                     const Bytes& header,
                                                                     const std::string& after,
                                                                     int limit) {
  // Table and column names come from the list above, never from outside.
  const std::string id = id_column(column);
  const auto rows = txn.exec_params(
      "SELECT " + id + "::text, " + column.column + " FROM " + column.table + " WHERE " +
          column.column + " IS NOT NULL AND substring(" + column.column +
          " FROM 1 FOR $1) IS DISTINCT FROM $2::bytea AND ($4::text IS NULL OR " + id +
          " > $4::" + column.id_type + ") ORDER BY " + id + " LIMIT $3 FOR UPDATE SKIP LOCKED",
      static_cast<int>(header.size()), bytea_literal(header), limit,
      after.empty() ? std::optional<std::string>() : std::optional<std::string>(after));
  std::vector<SealedValue> values;
  values.reserve(rows.size());
  for (const auto& row : rows)
    values.push_back({row[0].c_str(), bytes_of(row[1])});
  return values;
}

void KeyringStore::update_sealed(pqxx::work& txn, const SealedColumn& column,
                                 const std::vector<SealedValue>& values) {
  if (values.empty()) return;
  const std::string id = id_column(column);
  std::vector<std::string> ids, sealed;
  for (const auto& v : values) {
    ids.push_back(v.id);
    sealed.push_back(bytea_literal(v.sealed));
  }
  txn.exec_params("UPDATE " + std::string(column.table) + " t SET " + column.column +
                      " = r.sealed FROM unnest($1::text[], $2::bytea[]) AS r (id, sealed)"
                      " WHERE t." +
                      id + " = r.id::" + column.id_type,
                  text_array_literal(ids), text_array_literal(sealed));
}

}  // namespace keyflow
