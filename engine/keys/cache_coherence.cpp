#include "engine/keys/cache_coherence.hpp"

#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "engine/core/backoff.hpp"
#include "engine/core/ids.hpp"
#include "engine/core/interruptible_wait.hpp"
#include "engine/keys/cache_coherence_store.hpp"

namespace keyflow {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Collects notifications; they are handled after await_notification returns, since the
// connection cannot run a query from inside the callback.
class Collector final : public pqxx::notification_receiver {
 public:
  Collector(pqxx::connection& conn, std::vector<std::string>& into)
      : pqxx::notification_receiver(conn, CacheCoherenceStore::kChannel), into_(into) {}
  void operator()(const std::string& payload, int) override { into_.push_back(payload); }

 private:
  std::vector<std::string>& into_;
};

}  // namespace

CacheCoherence::CacheCoherence(std::string database_url, ConnectionPool& pool, VerifyCache& cache,
                               const Clock& clock, CacheCoherenceOptions options)
    : database_url_(std::move(database_url)),
      pool_(pool),
      cache_(cache),
      clock_(clock),
      options_(options),
      instance_id_(new_uuid()) {
  // Until the listener has joined, nothing cached can be vouched for.
  cache_.trust_until(TimePoint{});
}

void CacheCoherence::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<std::string> payloads;
    try {
      auto conn = ConnectionPool::connect(database_url_);
      Collector collector(*conn, payloads);  // LISTEN from here on
      CacheCoherenceStore::join(*conn, instance_id_);
      // Notifications sent while no listener was up are lost: start from an empty cache.
      cache_.clear();
      std::int64_t acked = 0;
      auto next_heartbeat = SteadyClock::now();
      while (!stop.stop_requested()) {
        const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(options_.heartbeat);
        conn->await_notification(0, static_cast<long>(wait.count()));
        std::int64_t pinged = acked;
        for (const auto& payload : payloads) {
          if (payload.starts_with("k:")) {
            cache_.invalidate_key(payload.substr(2));
          } else if (payload.starts_with("p:")) {
            pinged = std::max<std::int64_t>(pinged, std::stoll(payload.substr(2)));
          }
        }
        payloads.clear();
        if (pinged == acked && SteadyClock::now() < next_heartbeat) continue;
        // The trust is counted from before the heartbeat, whose seen_at is later still.
        const auto vouched_from = clock_.now();
        CacheCoherenceStore::heartbeat(*conn, instance_id_, pinged);
        acked = pinged;
        cache_.trust_until(vouched_from + options_.trust);
        next_heartbeat = SteadyClock::now() + options_.heartbeat;
      }
      // Once others stop waiting for this process, it must not answer from its cache.
      cache_.trust_until(TimePoint{});
      CacheCoherenceStore::leave(*conn, instance_id_);
    } catch (const std::exception& e) {
      // Changes may go unheard from now on: answer from the database until rejoined.
      cache_.trust_until(TimePoint{});
      cache_.clear();
      if (const auto count = warnings_.admit(SteadyClock::now())) {
        spdlog::warn("verify cache coherence: {} ({} times); verifying from the database", e.what(),
                     count);
      }
      sleep_unless_stopped(stop, std::chrono::seconds(1));
    }
  }
}

void CacheCoherence::await_everywhere() {
  const auto deadline = SteadyClock::now() + options_.wait_limit;
  try {
    auto lease = pool_.acquire();
    const auto ping = CacheCoherenceStore::ping(*lease);
    Backoff pause(std::chrono::milliseconds(1), std::chrono::milliseconds(20));
    while (CacheCoherenceStore::unanswered(*lease, ping, options_.alive_seconds) > 0) {
      if (SteadyClock::now() >= deadline) {
        spdlog::warn("verify cache coherence: serve processes did not answer within {} ms",
                     options_.wait_limit.count());
        return;
      }
      std::this_thread::sleep_for(pause.next());
    }
  } catch (const std::exception& e) {
    // The change is committed; the caches still drop it on their own when they hear of it,
    // and a process that cannot heartbeat stops trusting its cache.
    spdlog::warn("verify cache coherence: could not wait for the serve processes: {}", e.what());
  }
}

}  // namespace keyflow
