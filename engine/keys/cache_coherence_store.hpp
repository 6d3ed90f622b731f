#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace keyflow {

// SQL of the verify-cache coherence protocol (schemas/sql/007_verify_cache_coherence.sql).
class CacheCoherenceStore {
 public:
  static constexpr const char* kChannel = "keyflow_verify_cache";

  // Inside a key change's transaction: every listener drops the key once it commits.
  static void notify_key_changed(pqxx::work& txn, const std::string& key_id);
  static void notify_keys_changed(pqxx::work& txn, const std::vector<std::string>& key_ids);

  static void join(pqxx::connection& conn, const std::string& instance_id);
  // The heartbeat, with the newest ping this instance has answered.
  static void heartbeat(pqxx::connection& conn, const std::string& instance_id, std::int64_t acked);
  static void leave(pqxx::connection& conn, const std::string& instance_id);

  // Sends a ping (outside any transaction, so after everything committed before it).
  static std::int64_t ping(pqxx::connection& conn);
  // Live instances (heard from within `alive_seconds`) that have not answered the ping yet.
  static long unanswered(pqxx::connection& conn, std::int64_t ping, int alive_seconds);
};

}  // namespace keyflow
