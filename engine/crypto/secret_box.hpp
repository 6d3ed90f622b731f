#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/core/encoding.hpp"
#include "engine/crypto/master_key.hpp"

namespace keyflow {

// Secrets that must be read back (webhook signing secrets, event write keys) are stored as
// XChaCha20-Poly1305 ciphertext under the master key: nonce (24 bytes) || ciphertext || tag.
// The context (e.g. "webhook_secret") is authenticated, so a ciphertext cannot be moved to a
// column of another kind.
class SecretBox {
 public:
  explicit SecretBox(const MasterKey& key) : key_(key) {}
  Bytes seal(std::string_view plaintext, std::string_view context) const;
  std::optional<std::string> open(std::span<const std::uint8_t> sealed,
                                  std::string_view context) const;

 private:
  MasterKey key_;
};

}  // namespace keyflow
