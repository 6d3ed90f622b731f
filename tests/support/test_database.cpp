#include "tests/support/test_database.hpp"

#include <cstdlib>

#include <pqxx/pqxx>
#include <sodium.h>

#include "engine/core/encoding.hpp"
#include "engine/store/migrations.hpp"

namespace keyflow::test {
namespace {

std::string server_conninfo() {
  const char* url = std::getenv("KEYFLOW_TEST_DATABASE_URL");
  return url != nullptr ? url : "";
}

std::string maintenance_url(const std::string& server) {
  return server + " dbname=postgres";
}

}  // namespace

TestDatabase::TestDatabase() : TestDatabase(std::string_view{}) {
  apply_migrations(url_);
}

TestDatabase::TestDatabase(OnServer server) : TestDatabase(std::move(server.conninfo), {}) {
  apply_migrations(url_);
}

TestDatabase::TestDatabase(std::string_view last) : TestDatabase(server_conninfo(), last) {}

TestDatabase::TestDatabase(std::string server, std::string_view last) : server_(std::move(server)) {
  std::uint8_t random[6];
  randombytes_buf(random, sizeof random);
  name_ = "keyflow_test_" + hex_encode(random);
  {
    pqxx::connection admin(maintenance_url(server_));
    pqxx::nontransaction(admin).exec("CREATE DATABASE " + name_);
  }
  url_ = server_ + " dbname=" + name_;
  if (last.empty()) return;
  // As apply_migrations records them, so that it applies only the later ones afterwards.
  pqxx::connection conn(url_);
  pqxx::work txn(conn);
  txn.exec(
      "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL"
      " DEFAULT now())");
  for (const auto& m : embedded_migrations()) {
    txn.exec(std::string(m.sql));
    txn.exec_params("INSERT INTO schema_migrations (name) VALUES ($1)", std::string(m.name));
    if (m.name == last) break;
  }
  txn.commit();
}

std::string TestDatabase::admin_url() const {
  return maintenance_url(server_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(maintenance_url(server_));
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A database left behind is harmless in a throwaway cluster.
  }
}

void TestDatabase::exec(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::work txn(conn);
  txn.exec(sql);
  txn.commit();
}

std::string TestDatabase::text(const std::string& sql) const {
  pqxx::connection conn(url_);
  const auto row = pqxx::nontransaction(conn).exec1(sql);
  return row[0].is_null() ? "NULL" : row[0].c_str();
}

long TestDatabase::count(const std::string& sql) const {
  pqxx::connection conn(url_);
  return pqxx::nontransaction(conn).exec1(sql)[0].as<long>();
}

}  // namespace keyflow::test
