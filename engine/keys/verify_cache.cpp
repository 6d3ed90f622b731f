#include "engine/keys/verify_cache.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace keyflow {
namespace {
std::string as_key(const Bytes& hash) {
  return std::string(hash.begin(), hash.end());
}
}  // namespace

SharedKey::SharedKey(ApiKey k)
    : ApiKey(std::move(k)),
      usage_phase_(std::hash<std::string>{}(id) %
                   std::chrono::milliseconds(std::chrono::minutes(1)).count()) {}

bool SharedKey::first_use_this_minute(TimePoint at) const {
  const auto minute =
      std::chrono::duration_cast<std::chrono::minutes>(at.time_since_epoch() + usage_phase_)
          .count();
  auto seen = use_minute_.load(std::memory_order_relaxed);
  while (seen < minute) {
    if (use_minute_.compare_exchange_weak(seen, minute, std::memory_order_relaxed)) return true;
  }
  return false;
}

VerifyCache::VerifyCache(const Clock& clock, std::chrono::milliseconds ttl, std::size_t max_entries,
                         std::size_t max_absent)
    : clock_(clock),
      ttl_(ttl),
      // A small cache is one shard, so that its bounds hold exactly.
      shard_count_(std::clamp<std::size_t>(std::min(max_entries, max_absent) / 256, 1, kShards)),
      max_entries_(std::max<std::size_t>(1, max_entries / shard_count_)),
      max_absent_(std::max<std::size_t>(1, max_absent / shard_count_)) {}

std::size_t VerifyCache::HashOfHash::operator()(std::string_view hash) const {
  std::uint64_t code = 0;
  if (hash.size() < sizeof code) return std::hash<std::string_view>()(hash);
  std::memcpy(&code, hash.data(), sizeof code);
  return code;
}

VerifyCache::Shard& VerifyCache::shard_of(std::string_view hash) const {
  // The hash is a keyed BLAKE2b: its last byte is as good a spread as any, and apart from the
  // bytes HashOfHash uses.
  return shards_[hash.empty() ? 0 : static_cast<unsigned char>(hash.back()) % shard_count_];
}

std::span<VerifyCache::Shard> VerifyCache::used_shards() const {
  return {shards_.data(), shard_count_};
}

bool VerifyCache::trusted(TimePoint now) const {
  return now.time_since_epoch().count() < trusted_until_.load(std::memory_order_acquire);
}

std::optional<SharedKeyPtr> VerifyCache::get(const Bytes& hash) {
  const auto now = clock_.now();
  if (!trusted(now)) return std::nullopt;
  const std::string_view h(reinterpret_cast<const char*>(hash.data()), hash.size());
  auto& shard = shard_of(h);
  std::lock_guard lock(shard.mutex);
  // Known keys first: they are what verify is asked about most; put() keeps a hash in one tier.
  if (const auto it = shard.by_hash.find(h); it != shard.by_hash.end()) {
    if (it->second.expires_at > now) return it->second.key;
    shard.hash_by_id.erase(it->second.key->id);
    shard.by_hash.erase(it);
    return std::nullopt;
  }
  if (const auto a = shard.absent.find(h); a != shard.absent.end()) {
    if (a->second > now) return SharedKeyPtr();
    shard.absent.erase(a);
  }
  return std::nullopt;
}

std::uint64_t VerifyCache::epoch() const {
  return epoch_.load();
}

SharedKeyPtr VerifyCache::put(const Bytes& hash, std::optional<ApiKey> key,
                              std::uint64_t loaded_at_epoch) {
  auto shared = key ? std::make_shared<const SharedKey>(std::move(*key)) : SharedKeyPtr();
  const auto now = clock_.now();
  const auto h = as_key(hash);
  auto& shard = shard_of(h);
  std::lock_guard lock(shard.mutex);
  // Under the shard's lock: an invalidation that bumped the epoch after this check erases
  // the entry once it gets the lock.
  if (loaded_at_epoch != epoch_.load()) return shared;
  if (!trusted(now)) return shared;
  if (!shared) {
    if (const auto it = shard.by_hash.find(h); it != shard.by_hash.end()) {
      shard.hash_by_id.erase(it->second.key->id);
      shard.by_hash.erase(it);
    }
    // Crude but bounded: start the tier over rather than track recency on the hot path.
    if (shard.absent.size() >= max_absent_) shard.absent.clear();
    shard.absent[h] = now + ttl_;
    return shared;
  }
  if (shard.by_hash.size() >= max_entries_) {
    shard.by_hash.clear();
    shard.hash_by_id.clear();
  }
  shard.absent.erase(h);
  shard.by_hash[h] = Entry{shared, now + ttl_};
  shard.hash_by_id[shared->id] = h;
  return shared;
}

void VerifyCache::invalidate_key(const std::string& key_id) {
  ++epoch_;
  // Which shard holds the key is known by its hash only: ask each (invalidations are rare).
  for (auto& shard : used_shards()) {
    std::lock_guard lock(shard.mutex);
    const auto it = shard.hash_by_id.find(key_id);
    if (it == shard.hash_by_id.end()) continue;
    shard.by_hash.erase(it->second);
    shard.hash_by_id.erase(it);
  }
}

void VerifyCache::clear() {
  ++epoch_;
  for (auto& shard : used_shards()) {
    std::lock_guard lock(shard.mutex);
    shard.by_hash.clear();
    shard.hash_by_id.clear();
    shard.absent.clear();
  }
}

void VerifyCache::trust_until(TimePoint until) {
  trusted_until_.store(until.time_since_epoch().count(), std::memory_order_release);
}

std::size_t VerifyCache::size() const {
  std::size_t n = 0;
  for (auto& shard : used_shards()) {
    std::lock_guard lock(shard.mutex);
    n += shard.by_hash.size() + shard.absent.size();
  }
  return n;
}

void UsageRecorder::record(const std::string& key_id, TimePoint at) {
  std::lock_guard lock(mutex_);
  auto& slot = pending_[key_id];
  if (slot < at) slot = at;
}

std::vector<std::pair<std::string, TimePoint>> UsageRecorder::take() {
  std::unordered_map<std::string, TimePoint> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(pending_);
  }
  return {taken.begin(), taken.end()};
}

}  // namespace keyflow
