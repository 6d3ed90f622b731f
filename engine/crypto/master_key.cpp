#include "engine/crypto/master_key.hpp"

#include <algorithm>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {

std::optional<MasterKey> MasterKey::from_base64(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes || bytes->size() != kSize) return std::nullopt;
  MasterKey key;
  std::copy(bytes->begin(), bytes->end(), key.bytes_.begin());
  sodium_memzero(bytes->data(), bytes->size());
  return key;
}

std::optional<MasterKey> MasterKey::from_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kSize) return std::nullopt;
  MasterKey key;
  std::copy(bytes.begin(), bytes.end(), key.bytes_.begin());
  return key;
}

MasterKey MasterKey::generate() {
  MasterKey key;
  randombytes_buf(key.bytes_.data(), key.bytes_.size());
  return key;
}

MasterKey::~MasterKey() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

std::string MasterKey::to_base64() const {
  return base64_encode(bytes_);
}

}  // namespace keyflow
