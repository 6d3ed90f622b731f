#include "engine/store/migrations.hpp"

#include <spdlog/spdlog.h>

#include "engine/store/database.hpp"

namespace keyflow {
namespace {
constexpr long kMigrationLock = 0x6b6579666c6f77;  // "keyflow"
}

std::vector<std::string> apply_migrations(const std::string& database_url) {
  auto conn = ConnectionPool::connect(database_url);
  // Waiting for another process's migration, and a migration itself, may take long.
  conn->set_variable("statement_timeout", "0");
  pqxx::nontransaction(*conn).exec_params("SELECT pg_advisory_lock($1)", kMigrationLock);
  std::vector<std::string> applied;
  try {
    pqxx::nontransaction(*conn).exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    for (const auto& m : embedded_migrations()) {
      pqxx::work txn(*conn);
      const std::string name(m.name);
      if (!txn.exec_params("SELECT 1 FROM schema_migrations WHERE name = $1", name).empty()) {
        continue;
      }
      txn.exec(std::string(m.sql));
      txn.exec_params("INSERT INTO schema_migrations (name) VALUES ($1)", name);
      txn.commit();
      spdlog::info("applied migration {}", name);
      applied.push_back(name);
    }
  } catch (...) {
    pqxx::nontransaction(*conn).exec_params("SELECT pg_advisory_unlock($1)", kMigrationLock);
    throw;
  }
  pqxx::nontransaction(*conn).exec_params("SELECT pg_advisory_unlock($1)", kMigrationLock);
  return applied;
}

}  // namespace keyflow
