#include "engine/connections/connection_store.hpp"

#include "engine/store/sql_values.hpp"

namespace keyflow {
namespace {

constexpr const char* kColumns =
    "c.id, c.organization_id::text, c.project_id::text, c.type, c.name, c.created_at::text";

Connection connection_of(const pqxx::row& r) {
  Connection c;
  c.id = r[0].as<ConnectionId>();
  c.organization_id = r[1].as<std::string>();
  c.project_id = r[2].as<std::string>();
  // The CHECK constraint admits only the two types.
  c.type = parse_connection_type(r[3].as<std::string>()).value_or(ConnectionType::sdk);
  c.name = r[4].as<std::string>();
  c.created_at = timestamp_of(r[5]);
  return c;
}

WriteKeyRow write_key_of(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), timestamp_of(r[2])};
}

pqxx::binarystring bytea(const Bytes& b) {
  return pqxx::binarystring(b.data(), b.size());
}

}  // namespace

std::optional<ConnectionRow> ConnectionStore::find(pqxx::work& txn, ConnectionId id, bool lock) {
  const auto r = txn.exec_params(
      std::string("SELECT ") + kColumns +
          ", c.deleted_at IS NOT NULL, p.id IS NOT NULL"
          " FROM connections c LEFT JOIN projects p ON p.id = c.project_id WHERE c.id = $1" +
          (lock ? " FOR UPDATE OF c" : ""),
      id);
  if (r.empty()) return std::nullopt;
  return ConnectionRow{connection_of(r[0]), r[0][6].as<bool>(), r[0][7].as<bool>()};
}

bool ConnectionStore::insert(pqxx::work& txn, const Connection& c) {
  return !txn.exec_params(
                 "INSERT INTO connections (id, organization_id, project_id, type, name, created_at)"
                 " VALUES ($1, $2::bigint, $3::bigint, $4, $5, $6::timestamptz)"
                 " ON CONFLICT (id) DO NOTHING RETURNING id",
                 c.id, c.organization_id, c.project_id, std::string(to_string(c.type)), c.name,
                 sql_timestamp(c.created_at))
              .empty();
}

std::vector<Connection> ConnectionStore::list_live(pqxx::work& txn, const std::string& project_id) {
  std::vector<Connection> out;
  for (const auto& r : txn.exec_params(std::string("SELECT ") + kColumns +
                                           " FROM connections c WHERE c.project_id = $1::bigint"
                                           " AND c.deleted_at IS NULL"
                                           " ORDER BY c.created_at DESC, c.id DESC",
                                       project_id)) {
    out.push_back(connection_of(r));
  }
  return out;
}

void ConnectionStore::mark_deleted(pqxx::work& txn, ConnectionId id, TimePoint at) {
  txn.exec_params("UPDATE connections SET deleted_at = $2::timestamptz WHERE id = $1", id,
                  sql_timestamp(at));
}

std::size_t ConnectionStore::count_write_keys(pqxx::work& txn, ConnectionId id) {
  return txn.exec_params1("SELECT count(*) FROM event_write_keys WHERE connection_id = $1", id)[0]
      .as<std::size_t>();
}

void ConnectionStore::insert_write_key(pqxx::work& txn, const NewWriteKey& k) {
  txn.exec_params(
      "INSERT INTO event_write_keys (id, connection_id, key_hash, key_sealed, key_prefix,"
      " created_at) VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz)",
      k.id, k.connection_id, bytea(k.hash), bytea(k.sealed), k.key_prefix,
      sql_timestamp(k.created_at));
}

std::vector<Bytes> ConnectionStore::sealed_write_keys(pqxx::work& txn, ConnectionId id) {
  std::vector<Bytes> out;
  for (const auto& r : txn.exec_params("SELECT key_sealed FROM event_write_keys"
                                       " WHERE connection_id = $1 ORDER BY created_at, id",
                                       id)) {
    const pqxx::binarystring sealed(r[0]);
    out.emplace_back(sealed.begin(), sealed.end());
  }
  return out;
}

std::optional<WriteKeyRow> ConnectionStore::find_write_key(pqxx::work& txn, ConnectionId id,
                                                           const Bytes& hash) {
  const auto r = txn.exec_params(
      "SELECT id::text, key_prefix, created_at::text FROM event_write_keys"
      " WHERE connection_id = $1 AND key_hash = $2",
      id, bytea(hash));
  if (r.empty()) return std::nullopt;
  return write_key_of(r[0]);
}

void ConnectionStore::delete_write_key(pqxx::work& txn, const std::string& key_id) {
  txn.exec_params("DELETE FROM event_write_keys WHERE id = $1::uuid", key_id);
}

std::vector<WriteKeyRow> ConnectionStore::delete_write_keys(pqxx::work& txn, ConnectionId id) {
  std::vector<WriteKeyRow> out;
  for (const auto& r : txn.exec_params("DELETE FROM event_write_keys WHERE connection_id = $1"
                                       " RETURNING id::text, key_prefix, created_at::text",
                                       id)) {
    out.push_back(write_key_of(r));
  }
  return out;
}

std::optional<std::pair<Connection, std::string>> ConnectionStore::find_by_write_key(
    pqxx::work& txn, const Bytes& hash) {
  const auto r = txn.exec_params(
      std::string("SELECT ") + kColumns +
          ", k.id::text FROM event_write_keys k JOIN connections c ON c.id = k.connection_id"
          " JOIN projects p ON p.id = c.project_id"
          " WHERE k.key_hash = $1 AND c.deleted_at IS NULL",
      bytea(hash));
  if (r.empty()) return std::nullopt;
  return std::pair{connection_of(r[0]), r[0][6].as<std::string>()};
}

}  // namespace keyflow
