// A stalled PostgreSQL costs callers an error in bounded time, never a hang: connections get
// a connect timeout (unless the URL sets one) and a statement timeout, and the pool does not
// wait for a free connection for ever.
#include <libpq-fe.h>
#include <map>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "engine/core/errc.hpp"
#include "engine/store/database.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

TEST(DatabaseTimeouts, AServerThatNeverAnswersFailsWithinTheConnectTimeout) {
  // Accepts connections (the kernel does, from the backlog) and never says a word.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  ConnectionPool pool("host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) +
                          " dbname=keyflow user=keyflow",
                      2);
  const auto start = SteadyClock::now();
  EXPECT_THROW(pool.transact([](pqxx::work& txn) { txn.exec("SELECT 1"); }),
               pqxx::broken_connection);
  const auto took = SteadyClock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(ConnectionPool::kConnectTimeoutSeconds + 3));
  std::printf(
      "a silent server failed the connection after %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST(DatabaseTimeouts, EveryConnectionHasAStatementTimeout) {
  test::TestDatabase db;
  ConnectionPool pool(db.url(), 2);
  const auto show = [&](const std::string& setting) {
    return pool.transact(
        [&](pqxx::work& txn) { return txn.exec1("SHOW " + setting)[0].as<std::string>(); });
  };
  EXPECT_EQ(show("statement_timeout"),
            std::to_string(ConnectionPool::kStatementTimeoutSeconds) + "s");
  // A client cut off inside a transaction does not hold its locks until the server notices.
  EXPECT_EQ(show("idle_in_transaction_session_timeout"),
            std::to_string(ConnectionPool::kIdleInTransactionSeconds) + "s");
  EXPECT_EQ(show("client_connection_check_interval"), "5s");
}

// The connection string every connection is made with: keepalives and a connect timeout
// unless the URL gives its own, which then stay as given.
TEST(DatabaseTimeouts, ConnectionsKeepAliveUnlessTheUrlSaysOtherwise) {
  const auto options_of = [](const std::string& url) {
    std::map<std::string, std::string> out;
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    for (auto* o = options; o != nullptr && o->keyword != nullptr; ++o) {
      if (o->val != nullptr) out[o->keyword] = o->val;
    }
    PQconninfoFree(options);
    return out;
  };
  auto set = options_of(ConnectionPool::conninfo_with_defaults("host=db.example port=5432"));
  EXPECT_EQ(set["keepalives"], "1");
  EXPECT_EQ(set["keepalives_idle"], "10");
  EXPECT_EQ(set["keepalives_interval"], "5");
  EXPECT_EQ(set["keepalives_count"], "3");
  EXPECT_EQ(set["tcp_user_timeout"], "30000");
  EXPECT_EQ(set["connect_timeout"], std::to_string(ConnectionPool::kConnectTimeoutSeconds));
  EXPECT_EQ(set["host"], "db.example");

  auto own = options_of(ConnectionPool::conninfo_with_defaults(
      "postgresql://db.example/keyflow?keepalives_idle=60&connect_timeout=2"));
  EXPECT_EQ(own["keepalives_idle"], "60");
  EXPECT_EQ(own.count("keepalives_count"), 0u);
  EXPECT_EQ(own["connect_timeout"], "2");
  EXPECT_EQ(own["dbname"], "keyflow");
}

TEST(DatabaseTimeouts, AStatementOverItsTimeoutEndsWithTheStateServeAnswers503For) {
  test::TestDatabase db;
  ConnectionPool pool(db.url(), 2);
  pool.transact([](pqxx::work& txn) { txn.exec("CREATE TABLE held (id int PRIMARY KEY)"); });
  // The holder keeps the table locked; the waiter must be cancelled, not wait for ever. A
  // short session timeout keeps the test quick; the pool's own is the same mechanism.
  auto holder = ConnectionPool::connect(db.url());
  pqxx::work hold(*holder);
  hold.exec("LOCK TABLE held");
  const auto start = SteadyClock::now();
  try {
    pool.transact([](pqxx::work& txn) {
      txn.exec("SET LOCAL statement_timeout = '500ms'");
      txn.exec("SELECT * FROM held");
    });
    FAIL() << "the blocked statement returned";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(std::string(e.sqlstate()), "57014") << e.what();
  }
  EXPECT_LT(SteadyClock::now() - start, 5s);
}

}  // namespace
}  // namespace keyflow
