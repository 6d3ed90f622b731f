#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "engine/connections/connection_service.hpp"
#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"

namespace keyflow {

// A connection as read for an operation on it.
struct ConnectionRow {
  Connection connection;
  bool deleted = false;
  bool project_exists = true;
};

// What is stored of an event write key besides the key itself.
struct WriteKeyRow {
  std::string id;
  std::string key_prefix;
  TimePoint created_at;
};

struct NewWriteKey {
  std::string id;
  ConnectionId connection_id = 0;
  Bytes hash;
  Bytes sealed;
  std::string key_prefix;
  TimePoint created_at;
};

// SQL for connections and their event write keys, and nothing else. Every function works inside
// the caller's transaction, so that the service adds the outbox rows to the same commit.
class ConnectionStore {
 public:
  // The connection with the given id, deleted or not; with lock, its row stays locked until
  // the transaction ends, so that everything that counts or changes its keys serializes.
  static std::optional<ConnectionRow> find(pqxx::work& txn, ConnectionId id, bool lock);
  // False when the id is taken (ids are random: draw another).
  static bool insert(pqxx::work& txn, const Connection& connection);
  // A project's live connections, newest first.
  static std::vector<Connection> list_live(pqxx::work& txn, const std::string& project_id);
  static void mark_deleted(pqxx::work& txn, ConnectionId id, TimePoint at);

  static std::size_t count_write_keys(pqxx::work& txn, ConnectionId id);
  static void insert_write_key(pqxx::work& txn, const NewWriteKey& key);
  // The sealed keys of a connection, oldest first.
  static std::vector<Bytes> sealed_write_keys(pqxx::work& txn, ConnectionId id);
  static std::optional<WriteKeyRow> find_write_key(pqxx::work& txn, ConnectionId id,
                                                   const Bytes& hash);
  static void delete_write_key(pqxx::work& txn, const std::string& key_id);
  // Every key of the connection, deleted; what they were.
  static std::vector<WriteKeyRow> delete_write_keys(pqxx::work& txn, ConnectionId id);
  // The live connection, in a project that exists, holding the key with this hash, and the
  // key's id.
  static std::optional<std::pair<Connection, std::string>> find_by_write_key(pqxx::work& txn,
                                                                             const Bytes& hash);
};

}  // namespace keyflow
