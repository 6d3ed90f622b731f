#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/clock.hpp"
#include "outbox/outbox_record.hpp"

namespace keyflow {

// The relay's SQL, on the one connection that holds the relay lock, so that a round can only
// succeed while the lock is held. Each statement is prepared once per session and runs on its
// own (no BEGIN and COMMIT round trips). Only reading ahead uses a second connection: it
// changes nothing.
class RelaySession {
 public:
  explicit RelaySession(const std::string& database_url);
  ~RelaySession();
  RelaySession(const RelaySession&) = delete;
  RelaySession& operator=(const RelaySession&) = delete;

  // The session-level advisory lock every relay of a database competes for; held until this
  // connection closes, whatever its transactions do.
  bool try_take_lock();

  struct Claimed {
    std::vector<OutboxRecord> records;  // in id order
    std::vector<int> attempts;          // each record's tries so far
    std::size_t limit = 0;              // as asked for
  };
  // The first `limit` unpublished rows in id order that no parked row holds back; what was read
  // ahead for this limit, if anything was.
  Claimed claim(std::size_t limit);

  // Starts claiming the next `limit` rows, those of the round in flight excluded, on a
  // connection of its own, while the round waits for Kafka and marks (a round's claim is a
  // third of its time). The next claim() takes them.
  void read_ahead(std::size_t limit, std::vector<std::int64_t> in_flight);
  // Waits for a read ahead and forgets it: after a failure in the round in flight it may hold
  // a later event of a key whose earlier one has to go first.
  void drop_read_ahead();
  bool has_read_ahead() const { return ahead_.valid(); }

  // Marks rows published now; a row already published keeps its first time.
  void mark_published(std::vector<std::int64_t> ids);

  // Counts a refusal against a row and parks it on its max_attempts-th; returns whether it
  // was parked by this call.
  bool charge_attempt(std::int64_t id, const std::string& reason, int max_attempts);

  struct Backlog {
    std::uint64_t unpublished = 0;  // exact up to exact_up_to, estimated from the ids beyond
    std::uint64_t parked = 0;
    std::optional<TimePoint> oldest_unpublished;
  };
  Backlog count_backlog(std::int64_t exact_up_to);

  struct Expired {
    std::uint64_t deleted = 0;
    std::int64_t last_id = 0;  // where the next batch starts
    bool more = false;         // the batch was full and its last row occurred before the period
  };
  // Deletes, of the `batch` rows after id `after`, those published longer ago than
  // retention_seconds by PostgreSQL's clock.
  Expired delete_expired(std::int64_t after, double retention_seconds, std::int64_t batch);

 private:
  Claimed claim_on(pqxx::connection& conn, std::size_t limit,
                   const std::vector<std::int64_t>& excluded);

  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::connection> reader_;  // used by read_ahead()'s task only
  std::future<Claimed> ahead_;
};

// A connection that LISTENs on the outbox channel; notifications only wake the relay.
class OutboxListener {
 public:
  explicit OutboxListener(const std::string& database_url);

  // Reads the notifications already here (they are for commits the next claim sees anyway).
  void drain();
  // Waits up to `micros` for a notification; returns whether one came.
  bool await(long micros);

 private:
  class Receiver final : public pqxx::notification_receiver {
   public:
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override {}
  };

  std::unique_ptr<pqxx::connection> conn_;
  Receiver receiver_;  // declared after conn_: unregisters before the connection closes
};

}  // namespace keyflow
