#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// A key's state as the cache holds it: one copy, shared by every verify that reads it.
struct SharedKey : ApiKey {
  explicit SharedKey(ApiKey k);

  // True for the first use of the key in each minute: the one handed to the UsageRecorder, so
  // that a busy key costs one row update a minute rather than one per verify or per second
  // (10 000 keys in steady use would otherwise be 10 000 updates a second). last_used_at may
  // then lag the latest use by up to a minute, finer than the day or hour most dashboards show.
  // Each key's minutes start at a phase of its own (usage_phase), so that keys in steady use
  // come due spread over the minute, not all in the flush after the clock's minute turns.
  bool first_use_this_minute(TimePoint at) const;
  std::chrono::milliseconds usage_phase() const { return usage_phase_; }

  // What render(key) returns, rendered by the first caller only: the serve layer's verify
  // answer for this state, which every later verify of the key sends as it is.
  template <class Render>
  const std::string& rendered(Render&& render) const {
    std::call_once(rendered_once_, [&] { rendered_ = render(static_cast<const ApiKey&>(*this)); });
    return rendered_;
  }

 private:
  std::chrono::milliseconds usage_phase_;
  mutable std::atomic<std::int64_t> use_minute_{std::numeric_limits<std::int64_t>::min()};
  mutable std::once_flag rendered_once_;
  mutable std::string rendered_;
};
using SharedKeyPtr = std::shared_ptr<const SharedKey>;

// Key hash → the key's stored state, so that verify answers without the database. Entries are
// dropped by key id when the key's events arrive from Kafka (every serve process reads them),
// and expire after a short TTL as a safety net should an event be late. Known-absent hashes
// are cached too, so that guessing keys does not reach the database either, but in a tier of
// their own with its own bound: a flood of made-up keys cannot push real keys out.
//
// Verify runs on every I/O thread at once: the entries are split over shards by hash, each
// with its own lock, so that readers do not queue behind one mutex.
class VerifyCache {
 public:
  VerifyCache(const Clock& clock, std::chrono::milliseconds ttl, std::size_t max_entries = 100000,
              std::size_t max_absent = 10000);

  // nullopt: not cached. A cached absent key is an engaged optional holding nullptr.
  std::optional<SharedKeyPtr> get(const Bytes& hash);
  // Read epoch() before loading a key from the database and pass it to put(): a put whose
  // load raced with an invalidation is dropped, so stale state cannot slip back in.
  std::uint64_t epoch() const;
  // Returns the key as shared state (nullptr for an absent key), kept or not.
  SharedKeyPtr put(const Bytes& hash, std::optional<ApiKey> key, std::uint64_t loaded_at_epoch);
  void invalidate_key(const std::string& key_id);
  void clear();
  // With a coherence protocol (engine/keys/cache_coherence.hpp), the cache answers only while the
  // protocol vouches for it: after `until` every get() misses and put() keeps nothing, until
  // the next call moves it on. Without a call the cache is always trusted.
  void trust_until(TimePoint until);
  std::size_t size() const;  // known keys and absent hashes together

 private:
  static constexpr std::size_t kShards = 16;
  struct Entry {
    SharedKeyPtr key;
    TimePoint expires_at;
  };
  // Looked up by string_view (no copy of the hash per verify); the hashes are keyed BLAKE2b
  // outputs, so their first bytes are as good a hash code as any.
  struct HashOfHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view hash) const;
  };
  template <class T>
  using ByHash = std::unordered_map<std::string, T, HashOfHash, std::equal_to<>>;
  struct Shard {
    std::mutex mutex;
    ByHash<Entry> by_hash;     // known keys
    ByHash<TimePoint> absent;  // hash → until when it counts as absent
    std::unordered_map<std::string, std::string> hash_by_id;
  };
  Shard& shard_of(std::string_view hash) const;
  std::span<Shard> used_shards() const;
  bool trusted(TimePoint now) const;

  const Clock& clock_;
  std::chrono::milliseconds ttl_;
  std::size_t shard_count_;
  std::size_t max_entries_;  // per shard
  std::size_t max_absent_;   // per shard
  mutable std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> epoch_{0};
  // Until when the coherence protocol vouches, as a count of TimePoint ticks; max: always.
  std::atomic<TimePoint::rep> trusted_until_{std::numeric_limits<TimePoint::rep>::max()};
};

// last_used_at without a database write per verify: verify records uses in memory, and a
// background flush writes them in one statement every second or so.
class UsageRecorder {
 public:
  void record(const std::string& key_id, TimePoint at);
  // The uses recorded since the last call, newest per key.
  std::vector<std::pair<std::string, TimePoint>> take();

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, TimePoint> pending_;
};

}  // namespace keyflow
