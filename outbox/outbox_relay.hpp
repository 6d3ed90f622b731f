#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "engine/clock.hpp"
#include "outbox/kafka_producer.hpp"
#include "outbox/outbox_record.hpp"

namespace keyflow {

struct RelayOptions {
  std::string database_url{};
  std::string brokers{};
  std::size_t batch_size = 500;
  // How often to look for rows when no notification arrives.
  std::chrono::milliseconds poll_interval{500};
  // Bound on one message's delivery (librdkafka's message.timeout.ms), hence on one round.
  std::chrono::milliseconds delivery_timeout{30000};
  // How often a standby relay tries to take the lock.
  std::chrono::milliseconds standby_retry{1000};
  // Cap of the exponential backoff after a failed round or a database error.
  std::chrono::milliseconds max_backoff{5000};
};

struct RelayStats {
  std::uint64_t published = 0;       // rows this relay marked published
  std::uint64_t produce_errors = 0;  // messages refused or failed by Kafka
  std::uint64_t rounds = 0;          // publish rounds finished, empty ones included
  // Unpublished rows after the last round; counted up to 100000 when a batch came back full.
  std::uint64_t backlog = 0;
  std::optional<TimePoint> last_published_at;  // by the relay's clock
};

// Publishes outbox rows to Kafka, at least once and in id order per aggregate. Among relays on
// one database only the holder of a PostgreSQL advisory lock publishes; the others stand by and
// take over when its session ends. A row is marked published only once Kafka acknowledged it.
class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, const Clock& clock);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Blocks until stop is requested (returning within about 200 ms of it).
  void run(std::stop_token stop);

  // The database session is up and, when active, the last publish round succeeded.
  bool ready() const { return ready_.load(); }
  // This relay holds the lock and is the one publishing.
  bool active() const { return active_.load(); }
  RelayStats stats() const;

 private:
  struct Session;
  struct Listener;
  struct RoundResult {
    std::size_t claimed = 0;
    std::size_t failed = 0;
    std::error_code first_error{};
  };
  struct Delivery {
    std::vector<std::int64_t> acked;
    std::error_code first_error{};
  };

  bool try_take_lock(Session& session);
  RoundResult publish_round(Session& session, KafkaProducer& producer, const std::stop_token& stop);
  std::vector<OutboxRecord> claim(Session& session);
  Delivery deliver(const std::vector<OutboxRecord>& records, KafkaProducer& producer,
                   const std::stop_token& stop);
  void mark_published(Session& session, const std::vector<std::int64_t>& ids);
  std::uint64_t count_backlog(Session& session);
  void wait_for_work(std::unique_ptr<Listener>& listener, const std::stop_token& stop);

  RelayOptions options_;
  const Clock& clock_;
  ProducerOptions producer_options_;
  std::unique_ptr<KafkaProducer> producer_;  // used by run() only
  std::atomic<bool> ready_{false};
  std::atomic<bool> active_{false};
  mutable std::mutex stats_mutex_;
  RelayStats stats_;
};

}  // namespace keyflow
