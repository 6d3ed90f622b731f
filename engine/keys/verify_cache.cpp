#include "engine/keys/verify_cache.hpp"

namespace keyflow {
namespace {
std::string as_key(const Bytes& hash) {
  return std::string(hash.begin(), hash.end());
}
}  // namespace

std::optional<std::optional<ApiKey>> VerifyCache::get(const Bytes& hash) {
  std::lock_guard lock(mutex_);
  if (trusted_until_ && clock_.now() >= *trusted_until_) return std::nullopt;
  const auto h = as_key(hash);
  if (const auto a = absent_.find(h); a != absent_.end()) {
    if (a->second > clock_.now()) return std::optional<ApiKey>();
    absent_.erase(a);
    return std::nullopt;
  }
  const auto it = by_hash_.find(h);
  if (it == by_hash_.end()) return std::nullopt;
  if (it->second.expires_at <= clock_.now()) {
    if (it->second.key) hash_by_id_.erase(it->second.key->id);
    by_hash_.erase(it);
    return std::nullopt;
  }
  return it->second.key;
}

std::uint64_t VerifyCache::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

void VerifyCache::put(const Bytes& hash, const std::optional<ApiKey>& key,
                      std::uint64_t loaded_at_epoch) {
  std::lock_guard lock(mutex_);
  if (loaded_at_epoch != epoch_) return;
  if (trusted_until_ && clock_.now() >= *trusted_until_) return;
  const auto h = as_key(hash);
  if (!key) {
    // Crude but bounded: start the tier over rather than track recency on the hot path.
    if (absent_.size() >= max_absent_) absent_.clear();
    absent_[h] = clock_.now() + ttl_;
    return;
  }
  if (by_hash_.size() >= max_entries_) {
    by_hash_.clear();
    hash_by_id_.clear();
  }
  absent_.erase(h);
  by_hash_[h] = Entry{key, clock_.now() + ttl_};
  hash_by_id_[key->id] = h;
}

void VerifyCache::invalidate_key(const std::string& key_id) {
  std::lock_guard lock(mutex_);
  ++epoch_;
  const auto it = hash_by_id_.find(key_id);
  if (it == hash_by_id_.end()) return;
  by_hash_.erase(it->second);
  hash_by_id_.erase(it);
}

void VerifyCache::clear() {
  std::lock_guard lock(mutex_);
  ++epoch_;
  by_hash_.clear();
  hash_by_id_.clear();
  absent_.clear();
}

void VerifyCache::trust_until(TimePoint until) {
  std::lock_guard lock(mutex_);
  trusted_until_ = until;
}

std::size_t VerifyCache::size() const {
  std::lock_guard lock(mutex_);
  return by_hash_.size() + absent_.size();
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
