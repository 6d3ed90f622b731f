#include "engine/database.hpp"

namespace keyflow {

ConnectionPool::ConnectionPool(std::string url, std::size_t size)
    : url_(std::move(url)), size_(size) {}

ConnectionPool::Lease::~Lease() {
  if (pool_ == nullptr) return;
  if (conn_ && !conn_->is_open()) conn_.reset();
  pool_->release(std::move(conn_));
}

std::unique_ptr<pqxx::connection> ConnectionPool::connect(const std::string& url) {
  auto conn = std::make_unique<pqxx::connection>(url);
  // Timestamps travel as text; UTC keeps them uniform. set_variable (unlike a raw SET) is
  // restored when libpqxx reconnects a broken connection.
  conn->set_variable("TimeZone", "'UTC'");
  return conn;
}

ConnectionPool::Lease ConnectionPool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
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
