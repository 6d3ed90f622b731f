#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/crypto/key_hasher.hpp"
#include "engine/crypto/keyring.hpp"
#include "engine/crypto/secret_box.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// Connection ids are ids (engine/core/ids.hpp) that seed 003's URLs and bodies show as integers
// (/v1/connections/1371036433/...).
using ConnectionId = std::int64_t;

enum class ConnectionType { sdk, webhook };
std::string_view to_string(ConnectionType type);
std::optional<ConnectionType> parse_connection_type(std::string_view text);

// A source of events (an SDK or an incoming webhook) inside a project, which seed 003 calls a
// workspace. Its event write keys say which connection an incoming event belongs to.
struct Connection {
  ConnectionId id = 0;
  std::string organization_id;
  std::string project_id;
  ConnectionType type = ConnectionType::sdk;
  std::string name;
  TimePoint created_at;
};

// The one JSON form of a connection, for HTTP responses and event data.
boost::json::object to_json(const Connection& connection);

struct NewConnection {
  std::string project_id;
  std::string type;  // "sdk" or "webhook"
  std::string name;
};

struct CreatedConnection {
  Connection connection;
  std::string key;  // the first event write key
};

struct WriteKeyVerification {
  VerifyCode code = VerifyCode::not_found;  // VALID, NOT_FOUND or MALFORMED
  std::optional<Connection> connection;     // set when VALID
  std::optional<std::string> key_id;        // set when VALID
};

// Connections and their event write keys (seed 003). Every mutation and its outbox events
// commit in one transaction. Write keys are stored as a keyed hash (for verify) and sealed
// under the master key (so that they can be listed), never in plaintext.
//
// 404 texts, as seed 003 has them: "workspace does not exist" when the project named by
// project_id (or a connection's project) does not exist or is outside the caller's reach;
// "connection does not exist" for an unknown, deleted or out-of-reach connection; "key does
// not exist" for a key that is not one of the connection's. Out of reach answers exactly like
// missing, so ids do not leak across tenants. Creating and deleting need MANAGE; reading
// (get, list, list keys, verify) needs READ.
class ConnectionService {
 public:
  static constexpr std::size_t kMaxWriteKeys = 20;

  ConnectionService(ConnectionPool& db, const Keyring& keyring, const Clock& clock)
      : db_(db), hasher_(keyring.pepper()), box_(keyring), clock_(clock) {}

  // The connection with its first write key (connection.created, event_write_key.created).
  CreatedConnection create(const Actor& actor, const NewConnection& request);
  Connection get(const Actor& actor, std::string_view id);
  // Newest first.
  std::vector<Connection> list_by_project(const Actor& actor, const std::string& project_id);
  // Soft-deletes the connection and erases its write keys (event_write_key.deleted for each,
  // then connection.deleted). Deleting a deleted connection changes nothing and emits nothing.
  void remove(const Actor& actor, std::string_view id);

  // A new write key, at most kMaxWriteKeys per connection (limit_exceeded otherwise).
  std::string create_write_key(const Actor& actor, std::string_view connection_id);
  // The keys themselves, oldest first; never empty.
  std::vector<std::string> list_write_keys(const Actor& actor, std::string_view connection_id);
  // Never the connection's last key (limit_exceeded).
  void delete_write_key(const Actor& actor, std::string_view connection_id, std::string_view key);

  // Which connection a write key writes to. A key outside the caller's reach is NOT_FOUND.
  WriteKeyVerification verify_write_key(const Actor& actor, std::string_view key);

 private:
  ConnectionPool& db_;
  KeyHasher hasher_;
  SecretBox box_;
  const Clock& clock_;
};

}  // namespace keyflow
