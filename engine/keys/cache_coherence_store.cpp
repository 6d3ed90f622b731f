#include "engine/keys/cache_coherence_store.hpp"

#include "engine/store/sql_values.hpp"

namespace keyflow {

void CacheCoherenceStore::notify_key_changed(pqxx::work& txn, const std::string& key_id) {
  txn.exec_params("SELECT pg_notify($1, 'k:' || $2)", kChannel, key_id);
}

void CacheCoherenceStore::notify_keys_changed(pqxx::work& txn,
                                              const std::vector<std::string>& key_ids) {
  if (key_ids.empty()) return;
  txn.exec_params("SELECT pg_notify($1, 'k:' || id) FROM unnest($2::text[]) AS id", kChannel,
                  text_array_literal(key_ids));
}

void CacheCoherenceStore::join(pqxx::connection& conn, const std::string& instance_id) {
  pqxx::nontransaction tx(conn);
  // Rows of instances that died without leaving are of no use to anyone after an hour.
  tx.exec("DELETE FROM serve_instances WHERE seen_at < now() - interval '1 hour'");
  tx.exec_params(
      "INSERT INTO serve_instances (id, acked) VALUES ($1::uuid, 0)"
      " ON CONFLICT (id) DO UPDATE SET seen_at = now()",
      instance_id);
}

void CacheCoherenceStore::heartbeat(pqxx::connection& conn, const std::string& instance_id,
                                    std::int64_t acked) {
  pqxx::nontransaction(conn).exec_params(
      "UPDATE serve_instances SET seen_at = now(), acked = greatest(acked, $2)"
      " WHERE id = $1::uuid",
      instance_id, acked);
}

void CacheCoherenceStore::leave(pqxx::connection& conn, const std::string& instance_id) {
  pqxx::nontransaction(conn).exec_params("DELETE FROM serve_instances WHERE id = $1::uuid",
                                         instance_id);
}

std::int64_t CacheCoherenceStore::ping(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  const auto n = tx.exec1("SELECT nextval('verify_cache_ping')")[0].as<std::int64_t>();
  tx.exec_params("SELECT pg_notify($1, 'p:' || $2::text)", kChannel, n);
  return n;
}

long CacheCoherenceStore::unanswered(pqxx::connection& conn, std::int64_t ping, int alive_seconds) {
  return pqxx::nontransaction(conn)
      .exec_params1(
          "SELECT count(*) FROM serve_instances WHERE acked < $1"
          " AND seen_at > now() - make_interval(secs => $2)",
          ping, alive_seconds)[0]
      .as<long>();
}

}  // namespace keyflow
