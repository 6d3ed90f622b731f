#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace keyflow {

// A fixed set of PostgreSQL connections shared by worker threads. libpqxx is synchronous, so
// callers run on worker threads, never on an I/O thread. Broken connections are dropped and
// replaced on the next acquire.
class ConnectionPool {
 public:
  // Bounds on waiting for the database, so that a stalled server costs callers an error
  // (503 over HTTP) in bounded time.
  static constexpr int kConnectTimeoutSeconds = 5;
  static constexpr int kStatementTimeoutSeconds = 15;
  static constexpr int kIdleInTransactionSeconds = 30;
  static constexpr int kAcquireTimeoutSeconds = 10;

  ConnectionPool(std::string url, std::size_t size);

  // The URL (keyword or URI form) in keyword form, with what every connection needs unless the
  // URL sets its own: connect_timeout, and TCP keepalives (idle 10 s, then every 5 s, given up
  // after 3, tcp_user_timeout 30 s) so that a server that vanishes without closing is noticed
  // in about 30 s instead of the kernel's two hours. A malformed URL comes back as it is.
  static std::string conninfo_with_defaults(const std::string& url);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    // Do not return this connection to the pool (it is broken or in an unknown state).
    void discard() { conn_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  Lease acquire();

  // One round trip (SELECT 1) within the statement timeout: what readiness probes ask.
  bool reachable();

  // Runs fn(pqxx::work&) in a transaction and commits; retries on serialization failures and
  // deadlocks, which PostgreSQL resolves by aborting one side.
  template <class Fn>
  auto transact(Fn&& fn) {
    for (int attempt = 1;; ++attempt) {
      auto lease = acquire();
      try {
        pqxx::work txn(*lease);
        if constexpr (std::is_void_v<decltype(fn(txn))>) {
          fn(txn);
          txn.commit();
          return;
        } else {
          auto result = fn(txn);
          txn.commit();
          return result;
        }
      } catch (const pqxx::broken_connection&) {
        lease.discard();
        throw;
      } catch (const pqxx::transaction_rollback&) {
        if (attempt >= 5) throw;
      }
    }
  }

  const std::string& url() const { return url_; }

  // Opens a new connection outside the pool (for LISTEN or advisory-lock sessions), with the
  // session settings every keyflow connection uses: UTC, a statement timeout, and a
  // connect_timeout unless the URL sets one.
  static std::unique_ptr<pqxx::connection> connect(const std::string& url);

 private:
  void release(std::unique_ptr<pqxx::connection> conn);

  std::string url_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;
  std::size_t size_;
};

// Runs fn() behind a savepoint of txn and returns what it returns: should fn throw, what it
// wrote is rolled back, the rest of txn stands, and the exception goes on to the caller.
// (pqxx::subtransaction would need every store to take a dbtransaction instead of a work.)
template <class Fn>
auto within_savepoint(pqxx::work& txn, Fn&& fn) {
  txn.exec("SAVEPOINT keyflow_savepoint");
  try {
    if constexpr (std::is_void_v<decltype(fn())>) {
      fn();
      txn.exec("RELEASE SAVEPOINT keyflow_savepoint");
    } else {
      auto result = fn();
      txn.exec("RELEASE SAVEPOINT keyflow_savepoint");
      return result;
    }
  } catch (...) {
    txn.exec("ROLLBACK TO SAVEPOINT keyflow_savepoint");
    throw;
  }
}

}  // namespace keyflow
