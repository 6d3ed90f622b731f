#include "engine/connections/connection_service.hpp"

#include <spdlog/spdlog.h>

#include "engine/connections/connection_events.hpp"
#include "engine/connections/connection_store.hpp"
#include "engine/connections/write_key.hpp"
#include "engine/core/errc.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/time_format.hpp"
#include "engine/core/validation.hpp"
#include "engine/events/outbox_store.hpp"
#include "engine/tenancy/access.hpp"
#include "engine/tenancy/tenant_store.hpp"

namespace keyflow {
namespace {

constexpr const char* kWorkspaceMissing = "workspace does not exist";
constexpr const char* kConnectionMissing = "connection does not exist";
constexpr const char* kKeyMissing = "key does not exist";

Tenant tenant_of(const Connection& c) {
  return {c.organization_id, c.project_id};
}

ConnectionId require_connection_id(std::string_view text) {
  const auto id = parse_id(text);
  if (!id) throw Error(errc::invalid_argument, "id is not a valid connection id", "id");
  return *id;
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
  const auto project = TenantStore::find_project(txn, project_id);
  if (!project) throw Error(errc::not_found, kWorkspaceMissing, "project_id");
  Tenant tenant{project->organization_id, project_id};
  if (!can_reach(actor, tenant)) throw Error(errc::not_found, kWorkspaceMissing, "project_id");
  require_access(actor, permission, tenant, "workspace");
  return tenant;
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
    do {
      c.id = random_id();
    } while (!ConnectionStore::insert(txn, c));
    ConnectionStore::insert_write_key(txn, {key_id, c.id, hash, sealed, key_prefix, now});
    append_event(txn, connection_created(c, actor));
    append_event(txn, write_key_created({key_id, key_prefix, now}, c, actor));
  });
  return out;
}

Connection ConnectionService::get(const Actor& actor, std::string_view id) {
  const auto cid = require_connection_id(id);
  return db_.transact([&](pqxx::work& txn) -> Connection {
    return require_live(actor, Permission::read, ConnectionStore::find(txn, cid, false));
  });
}

std::vector<Connection> ConnectionService::list_by_project(const Actor& actor,
                                                           const std::string& project_id) {
  require_id(project_id, "project_id");
  return db_.transact([&](pqxx::work& txn) {
    require_workspace(txn, actor, Permission::read, project_id);
    return ConnectionStore::list_live(txn, project_id);
  });
}

void ConnectionService::remove(const Actor& actor, std::string_view id) {
  const auto cid = require_connection_id(id);
  const auto now = clock_.now();
  db_.transact([&](pqxx::work& txn) {
    const auto row = ConnectionStore::find(txn, cid, true);
    check_reach(actor, Permission::manage, row);
    if (row->deleted) return;
    const Connection& c = row->connection;
    ConnectionStore::mark_deleted(txn, cid, now);
    // The keys go with the connection: nothing sealed stays behind for a connection that
    // cannot be used, and consumers of keyflow.event_write_keys see each key end.
    for (const auto& k : ConnectionStore::delete_write_keys(txn, cid))
      append_event(txn, write_key_deleted(k, c, actor, now, "connection_deleted"));
    append_event(txn, connection_deleted(c, actor, now));
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
    const auto row = ConnectionStore::find(txn, cid, true);
    const Connection& c = require_live(actor, Permission::manage, row);
    if (ConnectionStore::count_write_keys(txn, cid) >= kMaxWriteKeys) {
      throw Error(errc::limit_exceeded, "connection already has 20 keys");
    }
    ConnectionStore::insert_write_key(txn, {key_id, cid, hash, sealed, key_prefix, now});
    append_event(txn, write_key_created({key_id, key_prefix, now}, c, actor));
  });
  return key;
}

std::vector<std::string> ConnectionService::list_write_keys(const Actor& actor,
                                                            std::string_view connection_id) {
  const auto cid = require_connection_id(connection_id);
  return db_.transact([&](pqxx::work& txn) {
    require_live(actor, Permission::read, ConnectionStore::find(txn, cid, false));
    std::vector<std::string> keys;
    for (const auto& sealed : ConnectionStore::sealed_write_keys(txn, cid)) {
      auto key = box_.open(sealed, kWriteKeyContext);
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
    const auto row = ConnectionStore::find(txn, cid, true);
    const Connection& c = require_live(actor, Permission::manage, row);
    // A malformed key is nobody's key: no lookup needed.
    if (!is_well_formed_write_key(key)) throw Error(errc::not_found, kKeyMissing, "key");
    const auto found = ConnectionStore::find_write_key(txn, cid, hasher_.hash(key));
    if (!found) throw Error(errc::not_found, kKeyMissing, "key");
    if (ConnectionStore::count_write_keys(txn, cid) <= 1) {
      throw Error(errc::limit_exceeded, "key cannot be deleted as it is the connection's only key",
                  "key");
    }
    ConnectionStore::delete_write_key(txn, found->id);
    append_event(txn, write_key_deleted(*found, c, actor, now, "deleted"));
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
    auto found = ConnectionStore::find_by_write_key(txn, hash);
    if (!found) return {VerifyCode::not_found, std::nullopt, std::nullopt};
    // Another tenant's key is unknown to this caller, so that existence does not leak.
    if (!can_reach(actor, tenant_of(found->first))) {
      return {VerifyCode::not_found, std::nullopt, std::nullopt};
    }
    return {VerifyCode::valid, std::move(found->first), std::move(found->second)};
  });
}

}  // namespace keyflow
