#include "engine/connection_service.hpp"

#include <spdlog/spdlog.h>

#include "engine/access.hpp"
#include "engine/errc.hpp"
#include "engine/ids.hpp"
#include "engine/json_render.hpp"
#include "engine/outbox_append.hpp"
#include "engine/sql_values.hpp"
#include "engine/time_format.hpp"
#include "engine/validation.hpp"
#include "engine/write_key.hpp"

namespace keyflow {
namespace {

constexpr const char* kWorkspaceMissing = "workspace does not exist";
constexpr const char* kConnectionMissing = "connection does not exist";
constexpr const char* kKeyMissing = "key does not exist";

// A connection as locked or read for an operation on it.
struct ConnectionRow {
  Connection connection;
  bool deleted = false;
  bool project_exists = true;
};

Tenant tenant_of(const Connection& c) {
  return {c.organization_id, c.project_id};
}

ConnectionId require_connection_id(std::string_view text) {
  const auto id = parse_id(text);
  if (!id) throw Error(errc::invalid_argument, "id is not a valid connection id", "id");
  return *id;
}

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

constexpr const char* kColumns =
    "c.id, c.organization_id::text, c.project_id::text, c.type, c.name, c.created_at::text";

// The connection with the given id, whether deleted or not; with lock, its row stays locked
// until the transaction ends, so that everything that counts or changes its keys serializes.
std::optional<ConnectionRow> load(pqxx::work& txn, ConnectionId id, bool lock) {
  const auto r = txn.exec_params(
      std::string("SELECT ") + kColumns +
          ", c.deleted_at IS NOT NULL, p.id IS NOT NULL"
          " FROM connections c LEFT JOIN projects p ON p.id = c.project_id WHERE c.id = $1" +
          (lock ? " FOR UPDATE OF c" : ""),
      id);
  if (r.empty()) return std::nullopt;
  return ConnectionRow{connection_of(r[0]), r[0][6].as<bool>(), r[0][7].as<bool>()};
}

// The checks every operation on one connection makes, in the order seed 003 lists its errors.
// A connection outside the caller's reach is "connection does not exist", like a missing one,
// before anything else can tell them apart. Deleted connections are left to the caller.
void check_reach(const Actor& actor, Permission permission,
                 const std::optional<ConnectionRow>& row) {
  if (!row || !can_reach(actor, tenant_of(row->connection))) {
    throw Error(errc::not_found, kConnectionMissing, "id");
  }
  if (!row->project_exists) throw Error(errc::not_found, kWorkspaceMissing, "id");
  require_access(actor, permission, tenant_of(row->connection), "connection");
}

// check_reach, and a deleted connection is missing too.
const Connection& require_live(const Actor& actor, Permission permission,
                               const std::optional<ConnectionRow>& row) {
  check_reach(actor, permission, row);
  if (row->deleted) throw Error(errc::not_found, kConnectionMissing, "id");
  return row->connection;
}

// The project a connection is created in or listed from; its organization.
Tenant require_workspace(pqxx::work& txn, const Actor& actor, Permission permission,
                         const std::string& project_id) {
  const auto r = txn.exec_params("SELECT organization_id::text FROM projects WHERE id = $1::bigint",
                                 project_id);
  if (r.empty()) throw Error(errc::not_found, kWorkspaceMissing, "project_id");
  Tenant tenant{r[0][0].as<std::string>(), project_id};
  if (!can_reach(actor, tenant)) throw Error(errc::not_found, kWorkspaceMissing, "project_id");
  require_access(actor, permission, tenant, "workspace");
  return tenant;
}

boost::json::object connection_event_data(const Connection& c, const Actor& actor) {
  auto data = to_json(c);
  data["actor"] = to_json(actor);
  return data;
}

// What events say of a write key: its id and hint, never the key or its hash.
boost::json::object key_event_data(const std::string& key_id, const std::string& key_prefix,
                                   TimePoint created_at, const Connection& c, const Actor& actor) {
  return {{"id", key_id},
          {"connection_id", c.id},
          {"connection_type", to_string(c.type)},
          {"project_id", c.project_id},
          {"organization_id", c.organization_id},
          {"key_prefix", key_prefix},
          {"created_at", format_timestamp(created_at)},
          {"actor", to_json(actor)}};
}

pqxx::binarystring bytea(const Bytes& b) {
  return pqxx::binarystring(b.data(), b.size());
}

}  // namespace

std::string_view to_string(ConnectionType type) {
  switch (type) {
    case ConnectionType::sdk:
      return "sdk";
    case ConnectionType::webhook:
      return "webhook";
  }
  return "sdk";
}

std::optional<ConnectionType> parse_connection_type(std::string_view text) {
  if (text == "sdk") return ConnectionType::sdk;
  if (text == "webhook") return ConnectionType::webhook;
  return std::nullopt;
}

boost::json::object to_json(const Connection& c) {
  return {{"id", c.id},
          {"organization_id", c.organization_id},
          {"project_id", c.project_id},
          {"type", to_string(c.type)},
          {"name", c.name},
          {"created_at", format_timestamp(c.created_at)}};
}

CreatedConnection ConnectionService::create(const Actor& actor, const NewConnection& request) {
  require_id(request.project_id, "project_id");
  const auto type = parse_connection_type(request.type);
  if (!type) throw Error(errc::invalid_argument, "type must be sdk or webhook", "type");
  require_name(request.name, "name");

  const auto now = clock_.now();
  CreatedConnection out;
  out.key = generate_write_key();
  const auto hash = hasher_.hash(out.key);
  const auto sealed = box_.seal(out.key, kWriteKeyContext);
  const auto key_id = new_uuid();
  const auto key_prefix = write_key_hint(out.key);

  db_.transact([&](pqxx::work& txn) {
    const auto tenant = require_workspace(txn, actor, Permission::manage, request.project_id);
    Connection& c = out.connection;
    c.organization_id = tenant.organization_id;
    c.project_id = request.project_id;
    c.type = *type;
    c.name = request.name;
    c.created_at = now;
    // 2^53 ids make a collision all but impossible; should one happen, draw again.
    for (;;) {
      c.id = random_id();
      const auto inserted = txn.exec_params(
          "INSERT INTO connections (id, organization_id, project_id, type, name, created_at)"
          " VALUES ($1, $2::bigint, $3::bigint, $4, $5, $6::timestamptz)"
          " ON CONFLICT (id) DO NOTHING RETURNING id",
          c.id, c.organization_id, c.project_id, std::string(to_string(c.type)), c.name,
          sql_timestamp(now));
      if (!inserted.empty()) break;
    }
    txn.exec_params(
        "INSERT INTO event_write_keys (id, connection_id, key_hash, key_sealed, key_prefix,"
        " created_at) VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz)",
        key_id, c.id, bytea(hash), bytea(sealed), key_prefix, sql_timestamp(now));
    append_event(txn, {"connection", std::to_string(c.id), "connection.created",
                       connection_event_data(c, actor), now});
    append_event(txn, {"event_write_key", key_id, "event_write_key.created",
                       key_event_data(key_id, key_prefix, now, c, actor), now});
  });
  return out;
}

Connection ConnectionService::get(const Actor& actor, std::string_view id) {
  const auto cid = require_connection_id(id);
  return db_.transact([&](pqxx::work& txn) -> Connection {
    return require_live(actor, Permission::read, load(txn, cid, false));
  });
}

std::vector<Connection> ConnectionService::list_by_project(const Actor& actor,
                                                           const std::string& project_id) {
  require_id(project_id, "project_id");
  return db_.transact([&](pqxx::work& txn) {
    require_workspace(txn, actor, Permission::read, project_id);
    std::vector<Connection> out;
    for (const auto& r : txn.exec_params(std::string("SELECT ") + kColumns +
                                             " FROM connections c WHERE c.project_id = $1::bigint"
                                             " AND c.deleted_at IS NULL"
                                             " ORDER BY c.created_at DESC, c.id DESC",
                                         project_id)) {
      out.push_back(connection_of(r));
    }
    return out;
  });
}

void ConnectionService::remove(const Actor& actor, std::string_view id) {
  const auto cid = require_connection_id(id);
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    const auto row = load(txn, cid, true);
    check_reach(actor, Permission::manage, row);
    if (row->deleted) return;
    const Connection& c = row->connection;
    txn.exec_params("UPDATE connections SET deleted_at = $2::timestamptz WHERE id = $1", cid,
                    sql_timestamp(now));
    // The keys go with the connection: nothing sealed stays behind for a connection that
    // cannot be used, and consumers of keyflow.event_write_keys see each key end.
    const auto keys = txn.exec_params(
        "DELETE FROM event_write_keys WHERE connection_id = $1"
        " RETURNING id::text, key_prefix, created_at::text",
        cid);
    for (const auto& k : keys) {
      const auto key_id = k[0].as<std::string>();
      auto data = key_event_data(key_id, k[1].as<std::string>(), timestamp_of(k[2]), c, actor);
      data["deleted_at"] = format_timestamp(now);
      data["reason"] = "connection_deleted";
      append_event(txn,
                   {"event_write_key", key_id, "event_write_key.deleted", std::move(data), now});
    }
    auto data = connection_event_data(c, actor);
    data["deleted_at"] = format_timestamp(now);
    append_event(txn,
                 {"connection", std::to_string(c.id), "connection.deleted", std::move(data), now});
  });
}

std::string ConnectionService::create_write_key(const Actor& actor,
                                                std::string_view connection_id) {
  const auto cid = require_connection_id(connection_id);
  const auto now = clock_.now();
  const auto key = generate_write_key();
  const auto hash = hasher_.hash(key);
  const auto sealed = box_.seal(key, kWriteKeyContext);
  const auto key_id = new_uuid();
  const auto key_prefix = write_key_hint(key);
  db_.transact([&](pqxx::work& txn) {
    // Counting under the connection's lock: twenty concurrent creates at 19 keys end at 20.
    const auto row = load(txn, cid, true);
    const Connection& c = require_live(actor, Permission::manage, row);
    const auto count =
        txn.exec_params1("SELECT count(*) FROM event_write_keys WHERE connection_id = $1", cid)[0]
            .as<std::size_t>();
    if (count >= kMaxWriteKeys) {
      throw Error(errc::limit_exceeded, "connection already has 20 keys");
    }
    txn.exec_params(
        "INSERT INTO event_write_keys (id, connection_id, key_hash, key_sealed, key_prefix,"
        " created_at) VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz)",
        key_id, cid, bytea(hash), bytea(sealed), key_prefix, sql_timestamp(now));
    append_event(txn, {"event_write_key", key_id, "event_write_key.created",
                       key_event_data(key_id, key_prefix, now, c, actor), now});
  });
  return key;
}

std::vector<std::string> ConnectionService::list_write_keys(const Actor& actor,
                                                            std::string_view connection_id) {
  const auto cid = require_connection_id(connection_id);
  return db_.transact([&](pqxx::work& txn) {
    require_live(actor, Permission::read, load(txn, cid, false));
    std::vector<std::string> keys;
    for (const auto& r :
         txn.exec_params("SELECT key_sealed FROM event_write_keys WHERE connection_id = $1"
                         " ORDER BY created_at, id",
                         cid)) {
      const pqxx::binarystring sealed(r[0]);
      auto key = box_.open({sealed.data(), sealed.size()}, kWriteKeyContext);
      if (!key) {
        spdlog::error("an event write key of connection {} cannot be decrypted", cid);
        throw Error(errc::internal, "a stored write key cannot be decrypted");
      }
      keys.push_back(std::move(*key));
    }
    return keys;
  });
}

void ConnectionService::delete_write_key(const Actor& actor, std::string_view connection_id,
                                         std::string_view key) {
  const auto cid = require_connection_id(connection_id);
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    const auto row = load(txn, cid, true);
    const Connection& c = require_live(actor, Permission::manage, row);
    // A malformed key is nobody's key: no lookup needed.
    if (!is_well_formed_write_key(key)) throw Error(errc::not_found, kKeyMissing, "key");
    const auto found = txn.exec_params(
        "SELECT id::text, key_prefix, created_at::text FROM event_write_keys"
        " WHERE connection_id = $1 AND key_hash = $2",
        cid, bytea(hasher_.hash(key)));
    if (found.empty()) throw Error(errc::not_found, kKeyMissing, "key");
    const auto count =
        txn.exec_params1("SELECT count(*) FROM event_write_keys WHERE connection_id = $1", cid)[0]
            .as<std::size_t>();
    if (count <= 1) {
      throw Error(errc::limit_exceeded, "key cannot be deleted as it is the connection's only key",
                  "key");
    }
    const auto key_id = found[0][0].as<std::string>();
    txn.exec_params("DELETE FROM event_write_keys WHERE id = $1::uuid", key_id);
    auto data =
        key_event_data(key_id, found[0][1].as<std::string>(), timestamp_of(found[0][2]), c, actor);
    data["deleted_at"] = format_timestamp(now);
    data["reason"] = "deleted";
    append_event(txn, {"event_write_key", key_id, "event_write_key.deleted", std::move(data), now});
  });
}

WriteKeyVerification ConnectionService::verify_write_key(const Actor& actor, std::string_view key) {
  if (!has_permission(actor, Permission::read)) {
    throw Error(errc::forbidden, "this key lacks the READ scope");
  }
  // The checksum turns away mistyped and made-up keys before any database work.
  if (!is_well_formed_write_key(key)) return {VerifyCode::malformed, std::nullopt, std::nullopt};
  const auto hash = hasher_.hash(key);
  return db_.transact([&](pqxx::work& txn) -> WriteKeyVerification {
    const auto r = txn.exec_params(
        std::string("SELECT ") + kColumns +
            ", k.id::text FROM event_write_keys k JOIN connections c ON c.id = k.connection_id"
            " JOIN projects p ON p.id = c.project_id"
            " WHERE k.key_hash = $1 AND c.deleted_at IS NULL",
        bytea(hash));
    if (r.empty()) return {VerifyCode::not_found, std::nullopt, std::nullopt};
    auto c = connection_of(r[0]);
    // Another tenant's key is unknown to this caller, so that existence does not leak.
    if (!can_reach(actor, tenant_of(c))) return {VerifyCode::not_found, std::nullopt, std::nullopt};
    return {VerifyCode::valid, std::move(c), r[0][6].as<std::string>()};
  });
}

}  // namespace keyflow
