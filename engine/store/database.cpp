#include "engine/store/database.hpp"

#include <libpq-fe.h>
#include <string_view>

#include "engine/core/errc.hpp"
#include "engine/core/non_blocking.hpp"

namespace keyflow {

ConnectionPool::ConnectionPool(std::string url, std::size_t size)
    : url_(std::move(url)), size_(size) {}

ConnectionPool::Lease::~Lease() {
  if (pool_ == nullptr) return;
  if (conn_ && !conn_->is_open()) conn_.reset();
  pool_->release(std::move(conn_));
}

std::string ConnectionPool::conninfo_with_defaults(const std::string& url) {
  // A stalled or unreachable server must turn into an error in bounded time, not a hang:
  // add connect_timeout unless the URL (keyword or URI form) sets one.
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return url;  // libpqxx reports the malformed URL itself
  }
  std::string out;
  bool has_timeout = false, has_keepalives = false;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view keyword(o->keyword);
    if (keyword == "connect_timeout") has_timeout = true;
    if (keyword.starts_with("keepalives") || keyword == "tcp_user_timeout") has_keepalives = true;
    out += std::string(o->keyword) + "='";
    for (const char* c = o->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') out += '\\';
      out += *c;
    }
    out += "' ";
  }
  PQconninfoFree(options);
  if (!has_timeout) out += "connect_timeout=" + std::to_string(kConnectTimeoutSeconds) + " ";
  // A server that vanishes without closing (a dead host, a partition) is noticed within
  // about 30 s on TCP connections, instead of the kernel's two hours, unless the URL says
  // otherwise. (Ignored on Unix sockets.)
  if (!has_keepalives) {
    out +=
        "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 "
        "tcp_user_timeout=30000";
  }
  return out;
}

std::unique_ptr<pqxx::connection> ConnectionPool::connect(const std::string& url) {
  auto conn = std::make_unique<pqxx::connection>(conninfo_with_defaults(url));
  // Timestamps travel as text; UTC keeps them uniform. set_variable (unlike a raw SET) is
  // restored when libpqxx reconnects a broken connection.
  conn->set_variable("TimeZone", "'UTC'");
  // No statement may hold a request (or a role's loop) longer than this; a stalled database
  // then answers 503 instead of hanging its callers.
  conn->set_variable("statement_timeout", "'" + std::to_string(kStatementTimeoutSeconds) + "s'");
  // A session whose client is gone in the middle of a transaction (killed, cut off) must not
  // hold its row locks until the server notices: PostgreSQL ends it after this long idle.
  conn->set_variable("idle_in_transaction_session_timeout",
                     "'" + std::to_string(kIdleInTransactionSeconds) + "s'");
  // And one whose client vanished mid-statement stops working for it (PostgreSQL 14 on).
  if (conn->server_version() >= 140000) {
    conn->set_variable("client_connection_check_interval", "'5s'");
  }
  return conn;
}

bool ConnectionPool::reachable() {
  try {
    transact([](pqxx::work& txn) { txn.exec("SELECT 1"); });
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

ConnectionPool::Lease ConnectionPool::acquire() {
  NonBlockingScope::check();
  std::unique_lock lock(mutex_);
  if (!available_.wait_for(lock, std::chrono::seconds(kAcquireTimeoutSeconds),
                           [&] { return !idle_.empty() || open_ < size_; })) {
    throw Error(errc::unavailable, "no database connection became free in time");
  }
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, connect(url_));
  } catch (...) {
    lock.lock();
    --open_;
    available_.notify_one();
    throw;
  }
}

void ConnectionPool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mutex_);
  if (conn) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  available_.notify_one();
}

}  // namespace keyflow
