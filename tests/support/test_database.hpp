#pragma once

#include <string>
#include <string_view>

namespace keyflow::test {

// A database of its own for one test suite, migrated, dropped at the end. The server comes
// from KEYFLOW_TEST_DATABASE_URL (libpq keyword/value form) or else libpq's PG* variables,
// which scripts/test sets from a throwaway cluster.
class TestDatabase {
 public:
  TestDatabase();
  // Migrated only up to and including the migration named last ("008_scheduled_rotation.sql"),
  // for tests of the migrations after it.
  explicit TestDatabase(std::string_view last);
  // On a server of the test's own (private_postgres.hpp): its conninfo without a dbname.
  struct OnServer {
    std::string conninfo;
  };
  explicit TestDatabase(OnServer server);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // The same server's maintenance database, for what a test does to this database as a whole.
  std::string admin_url() const;

  // SQL for tests, each call on a connection of its own: statements run in one transaction;
  // text() is the first column of the only row ("NULL" for NULL), count() that as a number.
  void exec(const std::string& sql) const;
  std::string text(const std::string& sql) const;
  long count(const std::string& sql) const;

 private:
  TestDatabase(std::string server, std::string_view last);
  std::string server_;
  std::string name_;
  std::string url_;
};

// The same master key in every test: tests decrypt what the engine stored.
inline constexpr const char* kTestMasterKey = "a2V5Zmxvdy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=";

}  // namespace keyflow::test
