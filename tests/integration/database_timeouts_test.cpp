// A stalled PostgreSQL costs callers an error in bounded time, never a hang: connections get
// a connect timeout (unless the URL sets one) and a statement timeout, and the pool does not
// wait for a free connection for ever.
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
  const auto timeout = pool.transact(
      [](pqxx::work& txn) { return txn.exec1("SHOW statement_timeout")[0].as<std::string>(); });
  EXPECT_EQ(timeout, std::to_string(ConnectionPool::kStatementTimeoutSeconds) + "s");
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
